"""Soak: minutes of mixed load with auth on, on PostgreSQL, with 100 webhook subscribers.

    python -m bench.soak [--duration 300] [--patients 2000] [--subscribers 100]
                         [--connections 16] [--workers 1]

A throwaway PostgreSQL (the test helper's, fsync off) gets the demo region
(``eolc-fhir demo``); ``eolc-fhir serve`` runs with authentication on (demo clients,
tokens from the token endpoint, every request audited, rate limit off); 100 rest-hook
Subscriptions (topic register-entry, id-only) point at 100 https receivers on loopback
(``bench.subscription_receivers`` with a self-signed certificate that the server trusts
through ``SSL_CERT_FILE``), in their own process.

The load generator (aiohttp, keep-alive, closed loop, in its own process) picks each
request at random: 70% ``$wishes`` by NHS number, 15% search (Patient by NHS number,
CarePlans of a patient), 10% writes (a new register Flag: 100 notifications each), 5%
read or history. Every non-2xx answer and every transport error counts as an error.
RSS (VmRSS) of the server process (and of each worker, if several) is sampled every
second. After the load the receivers get up to 120 s to receive every event; delivered
is compared with expected (the events the outbox holds). Markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.servers import REPO, Server, free_port, peak_rss_kib, process_tree, rss_kib

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
TOPIC = "https://eolc.example.org/fhir/SubscriptionTopic/register-entry"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
MIX = (("wishes", 70), ("search", 15), ("write", 10), ("read", 5))
# Settings that change the server's memory, stated in the report when the environment sets
# them (the server inherits it).
_REPORTED_SETTINGS = ("EOLC_WISHES_CACHE_MB", "EOLC_READ_CACHE_MB")


def _cli() -> str:
    return str(Path(sys.executable).parent / "eolc-fhir")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (the receivers'), which the server is told to trust."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "hooks.crt", folder / "hooks.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Receivers:
    """bench.subscription_receivers in its own process, spoken to over its stdin/stdout."""

    def __init__(self, count: int, cert: Path, key: Path) -> None:
        argv = [sys.executable, "-m", "bench.subscription_receivers", "--count", str(count),
                "--tls-cert", str(cert), "--tls-key", str(key)]
        self.proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.ports: list[int] = json.loads(self.proc.stdout.readline())

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _start_server(url: str, workdir: Path, cert: Path, workers: int) -> Server:
    port = free_port()
    argv = [_cli(), "serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", url]
    if workers > 1:
        argv += ["--workers", str(workers)]
    env = {**os.environ, "EOLC_LOG_LEVEL": "warning", "EOLC_DEMO_CLIENTS": "1",
           "EOLC_DEMO_KEYS_DIR": str(workdir / "keys"), "EOLC_TOKEN_LIFETIME": "7200",
           "EOLC_RATE_LIMIT_PER_MINUTE": "0", "SSL_CERT_FILE": str(cert),
           "EOLC_DELIVERY_ALLOWED_HOSTS": '["127.0.0.1"]'}
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Server("eolc-fhir", process, f"http://127.0.0.1:{port}", log_path)


def _token(server: Server, workdir: Path, client: str) -> str:
    from eolc_fhir.security.roles import default_scopes

    role = client.removeprefix("demo-")
    proc = subprocess.run([_cli(), "token", "--client-id", client, "--key-file",
                           str(workdir / "keys" / f"{client}.jwk.json"), "--scope",
                           default_scopes(role), "--url", server.base_url],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _subscribe(server: Server, token: str, ports: list[int]) -> list[str]:
    import httpx

    ids = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        for port in ports:
            body = {"resourceType": "Subscription", "status": "requested", "reason": "soak",
                    "criteria": TOPIC, "channel": {
                        "type": "rest-hook", "endpoint": f"https://127.0.0.1:{port}/hook",
                        "payload": "application/fhir+json",
                        "_payload": {"extension": [{"url": BACKPORT + "backport-payload-content",
                                                    "valueCode": "id-only"}]},
                        "extension": [{"url": BACKPORT + "backport-max-count",
                                       "valuePositiveInt": 100}]}}
            response = http.post("/Subscription", json=body)
            if response.status_code != 201:
                raise SystemExit(f"Subscription refused: {response.status_code} {response.text}")
            ids.append(response.json()["id"])
    return ids


Request = tuple[str, str, bytes | None]  # method, path, body


def _requests(seed: int, patients: int) -> dict[str, list[Request]]:
    """Per kind, (method, path, body) choices drawn from the demo region."""
    from eolc_fhir.demo.people import NhsNumbers, person_resources
    from eolc_fhir.demo.region import build_region

    region = build_region(seed, patients)
    numbers = NhsNumbers(seed)
    rng = random.Random(seed)
    # In index order, each once: a number depends on the ones drawn before it.
    nhs = {i: numbers.for_person(i) for i in range(patients)}
    sample = rng.sample(range(patients), min(patients, 500))
    people = {i: person_resources(region, i, dt.date.today(), nhs[i]) for i in sample[:100]}
    wishes: list[Request] = [("GET", f"/Patient/$wishes?identifier={NHS}|{nhs[i]}", None)
                             for i in sample]
    search: list[Request] = [("GET", f"/Patient?identifier={NHS}|{nhs[i]}", None)
                             for i in sample]
    read: list[Request] = []
    write: list[Request] = []
    for resources in people.values():
        patient = resources[0]["id"]
        search.append(("GET", f"/CarePlan?subject=Patient/{patient}", None))
        read.append(("GET", f"/Patient/{patient}", None))
        for r in resources[1:]:
            if r["resourceType"] in ("Flag", "CarePlan"):
                read.append(("GET", f"/{r['resourceType']}/{r['id']}/_history", None))
        flag = next((r for r in resources if r["resourceType"] == "Flag"), None)
        if flag is not None:  # someone who died unknown to the register has none
            body = {k: v for k, v in flag.items() if k != "id"}
            write.append(("POST", "/Flag", json.dumps(body).encode()))
    return {"wishes": wishes, "search": search, "write": write, "read": read}


def _allowed(server: Server, token: str, reads: list[Request]) -> list[Request]:
    """The reads the GP client may make (withdrawn consent hides some people): checked
    once before the load, so that a 403 in the soak is the server's doing, not the plan's."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        return [r for r in reads if http.get(r[1]).status_code == 200]


def _run_load(args: argparse.Namespace, base_url: str, tokens: tuple[str, str],
              plan_file: Path, out_file: Path) -> None:
    argv = [sys.executable, "-m", "bench.soak", "--load-generator", "--duration",
            str(args.duration), "--connections", str(args.connections), "--plan", str(plan_file),
            "--out", str(out_file), "--url", base_url]
    subprocess.run(argv, cwd=REPO, check=True, env={**os.environ, "BENCH_TOKEN": tokens[0],
                                                     "BENCH_WISHES_TOKEN": tokens[1]})


async def _generate(url: str, tokens: tuple[str, str], plan: dict[str, Any], duration: float,
                    connections: int) -> dict[str, Any]:
    import aiohttp

    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    errors: dict[str, int] = {}
    examples: dict[str, str] = {}  # one request per kind of error, to say what failed
    headers = {"Authorization": f"Bearer {tokens[0]}", "Accept": "application/fhir+json",
               "Content-Type": "application/fhir+json"}
    crew = {"Authorization": f"Bearer {tokens[1]}"}  # $wishes: as an ambulance crew asks
    deadline = time.monotonic() + duration

    async def worker(session: aiohttp.ClientSession, rng: random.Random) -> None:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            method, path, body = rng.choice(plan[kind])
            began = time.perf_counter()
            try:
                async with session.request(method, url + path, data=body,
                                           headers=crew if kind == "wishes" else None
                                           ) as response:
                    answer = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, key, answer = 0, f"{kind} {type(exc).__name__}", b""
            latencies[kind].append((time.perf_counter() - began) * 1000)
            if not 200 <= status < 300:
                key = f"{kind} {status}" if status else key
                errors[key] = errors.get(key, 0) + 1
                examples.setdefault(key, f"{method} {path}: {_diagnostics(answer)}")

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, headers=headers,
                                     timeout=timeout) as session:
        await asyncio.gather(*(worker(session, random.Random(n)) for n in range(connections)))
    return {"latencies": latencies, "errors": errors, "examples": examples,
            "seconds": duration}


def _diagnostics(body: bytes) -> str:
    """An error answer's first OperationOutcome diagnostics (what the server said), else ''."""
    try:
        issues = json.loads(body).get("issue") or [{}]
        return str(issues[0].get("diagnostics", ""))[:200]
    except (ValueError, AttributeError, IndexError):
        return ""


def _load_generator(args: argparse.Namespace) -> int:
    raw = json.loads(Path(args.plan).read_text())
    plan = {k: [(m, p, b.encode() if b is not None else None) for m, p, b in v]
            for k, v in raw.items()}
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    tokens = (os.environ["BENCH_TOKEN"], os.environ["BENCH_WISHES_TOKEN"])
    result = runner(_generate(args.url, tokens, plan, args.duration, args.connections))
    Path(args.out).write_text(json.dumps(result))
    return 0


class RssSampler:
    """VmRSS of the server and its workers every second, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: dict[int, list[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for pid in process_tree(self.pid):
                kib = rss_kib(pid)
                if kib:
                    self.samples.setdefault(pid, []).append(kib)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _expected_events(pg: Any, db: str, sub_ids: list[str]) -> int:
    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(pg.dsn(db))
        try:
            return int(await conn.fetchval(
                "SELECT coalesce(sum(last_event_number), 0) FROM subscription_state"
                " WHERE sub_id = ANY($1::text[])", sub_ids))
        finally:
            await conn.close()

    from tests._pg import run_sync

    return run_sync(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (serve)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load-generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_generator:
        return _load_generator(args)
    return _soak(args)


def _soak(args: argparse.Namespace) -> int:
    from tests._pg import start_pg_server

    work = Path(tempfile.mkdtemp(prefix="eolc-soak-"))
    pg = start_pg_server()
    receivers: Receivers | None = None
    server: Server | None = None
    try:
        db = pg.create_database()
        url = pg.url(db)
        print(f"loading {args.patients:,} patients", flush=True)
        subprocess.run([_cli(), "demo", "--patients", str(args.patients), "--seed",
                        str(args.seed), "--database-url", url], cwd=REPO, check=True)
        cert, key = _self_signed(work)
        receivers = Receivers(args.subscribers, cert, key)
        server = _start_server(url, work, cert, args.workers)
        server.wait_ready("/readyz", timeout=120)
        sub_ids = _subscribe(server, _token(server, work, "demo-coordination-centre"),
                             receivers.ports)
        plan = _requests(args.seed, args.patients)
        tokens = (_token(server, work, "demo-gp"), _token(server, work, "demo-ambulance"))
        # Filtered BEFORE the plan is written: the load generator reads the file, and a read
        # that withdrawn consent hides is a correct 403, not an error of the server.
        planned = len(plan["read"])
        plan["read"] = _allowed(server, tokens[0], plan["read"])
        print(f"reads: {len(plan['read'])} of {planned} allowed for the GP client "
              "(the others are hidden by withdrawn consent)", flush=True)
        plan_file = work / "plan.json"
        plan_file.write_text(json.dumps({k: [(m, p, b.decode() if b else None)
                                             for m, p, b in v] for k, v in plan.items()}))
        time.sleep(2)  # handshakes
        sampler = RssSampler(server.process.pid)
        start_rss = {pid: rss_kib(pid) for pid in process_tree(server.process.pid)}
        sampler.start()
        print(f"load: {args.duration:g} s, {args.connections} connections", flush=True)
        out_file = work / "load.json"
        _run_load(args, server.base_url, tokens, plan_file, out_file)
        sampler.stop()
        end_rss = {pid: rss_kib(pid) for pid in process_tree(server.process.pid)}
        peak = {pid: peak_rss_kib(pid) for pid in process_tree(server.process.pid)}
        expected = _expected_events(pg, db, sub_ids)
        drained_at = time.monotonic() + 120
        stats = receivers.ask("stats")
        while stats["events"] < expected and time.monotonic() < drained_at:
            time.sleep(1)
            stats = receivers.ask("stats")
        latencies = receivers.ask("latencies")
        result = json.loads(out_file.read_text())
        report = _report(args, result, start_rss, end_rss, peak, sampler.samples, expected,
                         stats, latencies)
        _write(report)
    finally:
        if server is not None:
            server.stop()
        if receivers is not None:
            receivers.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _report(args: argparse.Namespace, result: dict[str, Any], start: dict[int, int],
            end: dict[int, int], peak: dict[int, int], samples: dict[int, list[int]],
            expected: int, stats: dict[str, Any], latencies: list[float]) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    total = sum(len(v) for v in result["latencies"].values())
    errors = sum(result["errors"].values())
    lines = [f"# Soak ({stamp})", "",
             f"{args.duration:g} s of mixed load, authentication on (a GP client's token, every "
             "request audited; `$wishes` with an ambulance client's token), PostgreSQL 15 (test "
             f"helper, fsync off), {args.patients:,}-"
             f"patient demo region, {args.workers} uvicorn worker(s), {args.connections} "
             f"connections (aiohttp, closed loop), {args.subscribers} rest-hook subscribers "
             f"(https on loopback). {os.cpu_count()} cores shared with the load generator, "
             "the receivers and other people's work.",
             *[f"The server ran with {name}={os.environ[name]} from the environment."
               for name in _REPORTED_SETTINGS if name in os.environ], "",
             f"**Requests: {total:,} ({total / result['seconds']:,.0f}/s); errors (non-2xx or "
             f"no answer): {errors}** {json.dumps(result['errors']) if errors else ''}",
             *[f"- e.g. {key}: `{request}`" for key, request in result["examples"].items()], "",
             "| kind | share | requests | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    for kind, share in MIX:
        values = result["latencies"][kind]
        lines.append(f"| {kind} | {share}% | {len(values):,} | {_pct(values, 0.5):.1f} "
                     f"| {_pct(values, 0.99):.1f} | {max(values, default=0):.1f} |")
    lines += ["", "| process | RSS at start MiB | RSS at end MiB | peak RSS (VmHWM) MiB |"
              " max sampled MiB |", "|---|---|---|---|---|"]
    for pid in sorted(set(start) | set(end)):
        lines.append(f"| {pid} | {start.get(pid, 0) / 1024:.0f} | {end.get(pid, 0) / 1024:.0f} "
                     f"| {peak.get(pid, 0) / 1024:.0f} "
                     f"| {max(samples.get(pid, [0])) / 1024:.0f} |")
    for pid in sorted(samples):  # whether it levels off, not only where it ended
        minutes = samples[pid][59::60]
        lines.append(f"\nRSS of {pid} after each minute of load: "
                     + ", ".join(f"{kib / 1024:.0f}" for kib in minutes) + " MiB")
    lat = sorted(latencies)
    lines += ["", f"Notifications: expected {expected:,} events (the outbox), delivered "
              f"{stats['events']:,} (first arrivals) in {stats['posts']:,} POSTs"
              + (f"; change-to-receipt latency p50 {_pct(lat, 0.5):.0f} ms, p99 "
                 f"{_pct(lat, 0.99):.0f} ms" if lat else "") + "."]
    return "\n".join(lines) + "\n"


def _write(report: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (RESULTS / f"{stamp}-soak.md").write_text(report)
    print(report)
    print(f"written to {RESULTS}/{stamp}-soak.md")


if __name__ == "__main__":
    raise SystemExit(main())
