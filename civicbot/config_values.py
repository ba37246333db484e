"""The value rules of the config's fields: checks and annotated types that `civicbot.config`'s
models are built from (kept apart so that the models read as the settings they are)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from civicbot.names import OWNER_RE, REPO_NAME_RE, REPO_PATTERN, full_name_problem  # noqa: F401
from civicbot.names import shown as _shown
from civicbot.paths import path_problem

# Logins are owners, plus the "[bot]" suffix GitHub gives app accounts.
LOGIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOPIC_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")
GITHUB_TOKEN_RE = re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}")
SECRET_KEY_RE = re.compile(r"token|password|passwd|secret|api[_-]?key|credential", re.IGNORECASE)
SECRET_KEYS_ALLOWED = {"token_env", "token_file"}  # they name where a token is, not the token
TOKEN_ADVICE = "tokens belong in an environment variable (github.token_env) or a token file (github.token_file), never in the config"

RESOURCES = ("repo", "issues", "pulls", "comments", "events", "labels", "contributors", "forks", "commits",
             "languages", "profiles", "review_comments", "reviews")
Resource = Literal["repo", "issues", "pulls", "comments", "events", "labels", "contributors", "forks", "commits",
                   "languages", "profiles", "review_comments", "reviews"]


def _check_repo(value: str) -> str:
    problem = full_name_problem(value)
    if problem:
        raise ValueError(problem)
    if value.lower().endswith(".git"):
        raise ValueError(f"write the repo name without '.git': {_shown(value[:-4])}")
    return value


def _check_login(value: str) -> str:
    if not LOGIN_RE.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not a GitHub login")
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"pattern {_shown(value)} is not a valid regular expression: {e}") from None
    return value


def _check_env_name(value: str) -> str:
    if not ENV_NAME_RE.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not an environment variable name (letters, digits, '_')")
    return value


def _check_topic(value: str) -> str:
    if not TOPIC_RE.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not a GitHub topic (lowercase letters, digits, hyphens; up to 50)")
    return value


def _quoted_code(value: Any) -> Any:
    # YAML reads `pref_code: 01` as the number 1 (and 01100 as octal), losing the leading zero.
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'write the code as a quoted string, like "01" (YAML read {value} as a number)')
    return value


def _check_pref_code(value: str) -> str:
    if not (re.fullmatch(r"\d\d", value) and 1 <= int(value) <= 47):
        raise ValueError(f'{_shown(value)} is not a JIS X 0401 prefecture code ("01" to "47")')
    return value


def _check_muni_code(value: str) -> str:
    if not re.fullmatch(r"\d{5,6}", value):
        raise ValueError(f"{_shown(value)} is not a municipality code (5 digits, or 6 with the check digit)")
    return value


def _check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise ValueError(f"{_shown(value)} is not an http(s) URL with a host")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("the base URL takes no query or fragment")
    if parts.username or parts.password:
        raise ValueError(f"the base URL takes no credentials; {TOKEN_ADVICE}")
    try:
        parts.port  # raises on a bad port such as :99999
    except ValueError:
        raise ValueError(f"{_shown(value)} has a bad port") from None
    return value.rstrip("/")


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{_shown(value)} is not a known IANA time zone, like Asia/Tokyo or UTC") from None
    return value


def cron_trigger(expression: str, timezone: str = "UTC"):
    """An APScheduler CronTrigger for a crontab line: 5 fields (minute hour day month weekday), or
    6 fields with seconds first (second minute hour day month weekday), for tests and demos."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=day_of_week, timezone=timezone)
    return CronTrigger.from_crontab(expression, timezone=timezone)


def _check_cron(value: str) -> str:
    try:
        cron_trigger(value)
    except (ValueError, TypeError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"{_shown(value)} is not a cron expression (5 fields: minute hour day month weekday, "
                         f"or 6 with seconds first): {reason}") from None
    return value


def _expand_user(value: Path) -> Path:
    if any(ord(ch) < 32 for ch in str(value)):  # the OS refuses NUL; other control characters are typos
        raise ValueError(f"{_shown(str(value))} holds a control character; a file path cannot")
    return value.expanduser()


def _regular_file(value: Path) -> Path:
    problem = path_problem(value)
    if problem:
        raise ValueError(f"{_shown(str(value), 300)} {problem}")  # a path is worth showing whole
    return value


RepoName = Annotated[str, AfterValidator(_check_repo), WithJsonSchema({"type": "string", "pattern": REPO_PATTERN})]
Login = Annotated[str, AfterValidator(_check_login)]
Pattern = Annotated[str, AfterValidator(_check_regex), WithJsonSchema({"type": "string", "format": "regex"})]
EnvName = Annotated[str, AfterValidator(_check_env_name), WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"})]


def _one_or_many(value: Any) -> Any:
    # `token_env: GITHUB_TOKEN` names one variable as plainly as a one-element list does.
    return [value] if isinstance(value, str) else value


EnvNames = Annotated[list[EnvName], BeforeValidator(_one_or_many),
                     WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                                               {"type": "array", "items": {"type": "string",
                                                                           "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}}]})]
Topic = Annotated[str, AfterValidator(_check_topic), WithJsonSchema({"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,49}$"})]
PrefCode = Annotated[str, BeforeValidator(_quoted_code), AfterValidator(_check_pref_code),
                     WithJsonSchema({"type": "string", "pattern": r"^(0[1-9]|[1-3][0-9]|4[0-7])$"})]
MuniCode = Annotated[str, BeforeValidator(_quoted_code), AfterValidator(_check_muni_code),
                     WithJsonSchema({"type": "string", "pattern": r"^[0-9]{5,6}$"})]
LocalPath = Annotated[Path, AfterValidator(_expand_user)]
# A file civicbot reads or writes (the database, a token file): if it exists, a regular one.
FilePath = Annotated[Path, AfterValidator(_expand_user), AfterValidator(_regular_file)]
BaseUrl = Annotated[str, AfterValidator(_check_base_url),
                    WithJsonSchema({"type": "string", "format": "uri", "pattern": r"^https?://[^?#\s]+$"})]


Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NonEmpty = Annotated[str, Field(min_length=1)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
Cron = Annotated[str, AfterValidator(_check_cron)]
