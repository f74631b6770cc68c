"""SMART scope parsing and the scope-AND-role decision."""

from __future__ import annotations

import pytest

from eolc_fhir.fhir.errors import Forbidden, MethodNotAllowed
from eolc_fhir.security.policy import authorize, can_read
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.ratelimit import RateLimiter, SharedWindow
from eolc_fhir.security.scopes import ScopeError, parse_scopes


def _principal(role: str, scopes: str) -> Principal:
    return Principal("c", "X1", role, parse_scopes(scopes), 0.0)


@pytest.mark.parametrize(("text", "rtype", "letter", "allowed"), [
    ("system/CarePlan.rs", "CarePlan", "r", True),
    ("system/CarePlan.rs", "CarePlan", "s", True),
    ("system/CarePlan.rs", "CarePlan", "u", False),
    ("system/CarePlan.rs", "Patient", "r", False),
    ("system/*.cruds", "Flag", "d", True),
    ("system/*.read", "Flag", "s", True),
    ("system/*.read", "Flag", "c", False),
    ("system/Flag.write", "Flag", "c", True),
    ("system/Flag.write", "Flag", "r", False),
    ("system/*.*", "Flag", "d", True),
])
def test_scopes_grant_letters_per_type(text: str, rtype: str, letter: str, allowed: bool) -> None:
    assert parse_scopes(text).allows(rtype, letter) is allowed


@pytest.mark.parametrize("bad", ["patient/*.read", "user/Flag.rs", "system/Flag.sr",
                                 "system/Flag.rr", "system/Flag.x", "launch", "openid",
                                 "system/flag.rs", "system/Flag.rs?category=x"])
def test_scopes_we_do_not_speak_are_errors(bad: str) -> None:
    with pytest.raises(ScopeError):
        parse_scopes(bad)


def test_covers_compares_grants_not_strings() -> None:
    allowed = parse_scopes("system/*.rs system/CarePlan.cu")
    assert allowed.covers(parse_scopes("system/CarePlan.cru system/Patient.read"))
    assert not allowed.covers(parse_scopes("system/Patient.write"))
    assert not allowed.covers(parse_scopes("system/*.c"))


def test_scope_and_role_must_both_allow() -> None:
    ambulance = _principal("ambulance", "system/*.cruds")
    authorize(ambulance, "read", "CarePlan")
    with pytest.raises(Forbidden):
        authorize(ambulance, "create", "CarePlan")  # the scope would, the role does not
    gp = _principal("gp", "system/Patient.rs")
    with pytest.raises(Forbidden):
        authorize(gp, "create", "Patient")  # the role would, the scope does not
    with pytest.raises(MethodNotAllowed):
        authorize(_principal("admin", "system/*.cruds"), "delete", "AuditEvent")
    with pytest.raises(MethodNotAllowed):
        authorize(None, "update", "AuditEvent")  # not even with --insecure-dev
    authorize(None, "delete", "CarePlan")  # --insecure-dev allows the rest


def test_can_read_is_what_includes_are_filtered_by() -> None:
    gp = _principal("gp", "system/*.rs")
    assert can_read(gp, "Patient")
    assert not can_read(gp, "AuditEvent")
    assert can_read(_principal("coordination-centre", "system/*.rs"), "AuditEvent")
    assert not can_read(_principal("gp", "system/CarePlan.rs"), "Patient")
    assert can_read(None, "AuditEvent")


def test_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.take("a", now=0.0) == 0 and limiter.take("a", now=0.0) == 0
    assert limiter.take("a", now=0.0) == pytest.approx(1.0)
    assert limiter.take("b", now=0.0) == 0  # per client
    assert limiter.take("a", now=1.0) == 0
    assert RateLimiter(per_minute=0, burst=1).take("a") == 0  # 0 = no limit


def test_rate_limiter_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import eolc_fhir.security.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "_MAX_BUCKETS", 3)
    limiter = RateLimiter(per_minute=60, burst=2)
    limiter.take("busy", now=0.0)
    limiter.take("busy", now=0.0)
    for i in range(10):
        limiter.take(f"ip:{i}", now=0.5)
    assert len(limiter._buckets) <= 3


def test_a_client_s_own_limit_replaces_the_default() -> None:
    limiter = RateLimiter(per_minute=6000, burst=300)
    assert [limiter.take("small", 3, now=0.0) for _ in range(4)][-1] == pytest.approx(20.0)
    assert all(limiter.take("none", 0, now=0.0) == 0 for _ in range(1000))  # 0 = unlimited
    assert all(limiter.take("default", now=0.0) == 0 for _ in range(300))
    assert limiter.take("default", now=0.0) > 0


def test_the_shared_window_counts_every_process() -> None:
    clock = [1_000.0]
    limiter = RateLimiter(per_minute=10, burst=10)
    window = limiter.shared = SharedWindow(lambda: clock[0])
    assert all(limiter.take("c", now=0.0) == 0 for _ in range(4))
    counts, watched, slot = window.start_sync()
    assert counts == {"c": 4} and watched == [] and slot == 100
    assert limiter.take("c", now=0.0) == 0  # counted while the sync is under way
    window.finish_sync({"c": 4 + 5})  # another process accepted 5 of its own
    clock[0] = 1_003.0
    assert limiter.take("c", now=0.0) == pytest.approx(7.0)  # until the next 10 s slot
    assert window.used("c") == 10
    window.start_sync()
    window.failed_sync()  # the database was away: the counts wait for the next sync
    assert window.pending == {"c": 1} and window.used("c") == 10
    assert limiter.take("ip:1", now=0.0) == 0  # addresses are limited per process only
