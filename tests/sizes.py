"""Sizes of the heavy suites, each overridable by an environment variable (docs/testing.md).

The defaults are what `make test` and CI run: real sizes that fit CI's time limit. Raise them to
soak the code, e.g. `CIVICBOT_CRASH_KILLS=100 CIVICBOT_CRASH_SCALE=1 make test`.
"""

from __future__ import annotations

import os


def _number(name: str, default: float, cast=float):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: not a number (docs/testing.md)") from None
    if value <= 0:
        raise SystemExit(f"{name}={raw!r}: must be above 0 (docs/testing.md)")
    return value


CRASH_KILLS = _number("CIVICBOT_CRASH_KILLS", 25, int)  # SIGKILLs in tests/test_crash_safety.py
CRASH_SCALE = _number("CIVICBOT_CRASH_SCALE", 0.2)  # world scale there (1 is about 10,000 issues and PRs)
FAULT_SCALE = _number("CIVICBOT_FAULT_SCALE", 0.05)  # world scale of the fault matrix (tests/test_harvest.py)
CONCURRENCY_SCALE = _number("CIVICBOT_CONCURRENCY_SCALE", 0.1)  # world harvested under readers
HYPOTHESIS_EXAMPLES = _number("CIVICBOT_HYPOTHESIS_EXAMPLES", 200, int)  # generated payloads per property
