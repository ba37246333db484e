"""Fault injection: the failures a harvester meets on the real GitHub, on demand.

A fault plan is a list of rules; each request is matched against them in order and the first
rule that fires decides the fault. Whether a rule fires depends only on the seed and on the
sequence of requests it matched, so a serial client sees the same faults on every run.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field

KINDS = {
    "500": "500 Internal Server Error with a JSON body",
    "502": "502 Bad Gateway with GitHub's HTML-less JSON body",
    "503": "503 Service Unavailable",
    "secondary": "403 secondary rate limit, with Retry-After (retry_after seconds)",
    "secondary_no_retry_after": "403 secondary rate limit without Retry-After",
    "429": "429 Too Many Requests with Retry-After (retry_after seconds)",
    "reset": "the TCP connection is reset before any response byte",
    "stall": "the response is held for stall_seconds (past the client's timeout), then sent",
    "truncate": "a 200 whose body stops halfway (Content-Length promises more)",
    "lost_answer": "the request is performed (a write changes the world), then the connection is reset unanswered",
    "404": "404 Not Found, as GitHub answers for a missing repo (a stray one inside a list, with page)",
    "partial": "GraphQL only: a 200 whose every second `nodes` entry is null with a SERVICE_UNAVAILABLE error",
}


class FaultPlanError(ValueError):
    """A fault plan is malformed; the message names the rule and field."""


@dataclass
class FaultRule:
    kind: str
    path: str = "*"  # fnmatch pattern on the request path (no query string)
    method: str = "*"
    rate: float = 1.0  # probability that a matching request gets the fault
    after: int = 0  # let this many matching requests pass first
    times: int | None = None  # fire at most this many times (None: no limit)
    retry_after: int = 1
    stall_seconds: float = 30.0
    page: int | None = None  # only this page of a list (its `page` parameter; none is page 1)
    matched: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def matches(self, method: str, path: str, page: str | None = None) -> bool:
        return ((self.method in ("*", method.upper())) and fnmatch.fnmatchcase(path, self.path)
                and (self.page is None or str(self.page) == (page or "1")))


class FaultPlan:
    def __init__(self, rules: list[FaultRule] | None = None, seed: int = 0):
        self.rules = rules or []
        self.seed = seed
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, data: object) -> "FaultPlan":
        """Build a plan from `{"seed": 1, "rules": [{"kind": "503", "path": "/repos/*", ...}]}`."""
        if not isinstance(data, dict):
            raise FaultPlanError("a fault plan is an object with 'rules' (and optionally 'seed')")
        unknown = set(data) - {"seed", "rules"}
        if unknown:
            raise FaultPlanError(f"unknown fault plan keys: {sorted(unknown)}")
        seed = data.get("seed", 0)
        if not isinstance(seed, int):
            raise FaultPlanError("seed must be an integer")
        rules = []
        for i, raw in enumerate(data.get("rules", [])):
            if not isinstance(raw, dict):
                raise FaultPlanError(f"rules[{i}] must be an object")
            if raw.get("kind") not in KINDS:
                raise FaultPlanError(f"rules[{i}].kind must be one of {sorted(KINDS)}, got {raw.get('kind')!r}")
            allowed = set(FaultRule.__dataclass_fields__) - {"matched", "fired"}
            extra = set(raw) - allowed
            if extra:
                raise FaultPlanError(f"rules[{i}]: unknown fields {sorted(extra)}")
            rule = FaultRule(**raw)
            if not 0.0 <= float(rule.rate) <= 1.0:
                raise FaultPlanError(f"rules[{i}].rate must be between 0 and 1")
            if rule.page is not None and (not isinstance(rule.page, int) or rule.page < 1):
                raise FaultPlanError(f"rules[{i}].page must be a page number (1 or more)")
            rules.append(rule)
        return cls(rules, seed)

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "rules": [
                {"kind": r.kind, "path": r.path, "method": r.method, "rate": r.rate, "after": r.after,
                 "times": r.times, "retry_after": r.retry_after, "stall_seconds": r.stall_seconds, "page": r.page,
                 "matched": r.matched, "fired": r.fired}
                for r in self.rules
            ],
        }

    def pick(self, method: str, path: str, page: str | None = None) -> FaultRule | None:
        """The rule whose fault this request gets, or None (`page`: the request's page parameter)."""
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path, page):
                    continue
                rule.matched += 1
                if rule.matched <= rule.after or (rule.times is not None and rule.fired >= rule.times):
                    continue
                # Draw for every eligible request, fired or not, so the sequence depends only on the seed.
                if self._random.random() < rule.rate:
                    rule.fired += 1
                    return rule
            return None
