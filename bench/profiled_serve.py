"""``eolc-fhir serve`` under cProfile, for the benchmarks' ``--profile PATH`` option.

    PROFILE_OUT=/tmp/serve.prof python -m bench.profiled_serve serve --port 8080 ...

uvicorn re-raises SIGTERM after a graceful shutdown, which would kill the process
before the profile is written; here that re-raise is dropped so the stats land.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys


def main() -> None:
    signal.raise_signal = lambda *_: None  # type: ignore[assignment]
    from eolc_fhir.cli import main as cli_main

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        cli_main(sys.argv[1:])
    finally:
        profiler.disable()
        profiler.dump_stats(os.environ["PROFILE_OUT"])


if __name__ == "__main__":
    main()
