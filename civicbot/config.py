"""Project family configuration: YAML files in `config/`, validated by pydantic models.

`load_config(path)` reads one file and returns a `Config`, or raises `ConfigError` whose
message is one line naming the file, the field path and the problem. The models also ship as
JSON Schema (`config_json_schema()`, committed as `config/schema.json`; regenerate it with
`python -m civicbot.config > config/schema.json`). Tokens never live in a config file: the
config names environment variables or a token file, and `resolve_tokens()` reads them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

__all__ = [
    "Config", "ConfigError", "ConfigIssue", "RESOURCES", "config_json_schema", "load_config",
    "resolve_tokens",
]


# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where (a dotted field path, a YAML line, or "" for the whole file) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ValueError):
    """A config (or token source) is unusable. `str()` is one line: source, path, first problem."""

    def __init__(self, source: str, errors: list[ConfigIssue]):
        self.source = source
        self.errors = errors
        first = " ".join(str(errors[0]).split())  # one line, whatever the message held
        if len(first) > 400:  # a short line, whatever value it quotes
            first = first[:399] + "…"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{source}: {first}{more}")


# ---------------------------------------------------------------------------------------------
# Value rules shared by several fields

# GitHub: an owner is 1-39 letters, digits or hyphens, not starting with a hyphen (old accounts
# may have doubled or trailing hyphens, so those are allowed); a repo name is 1-100 letters,
# digits, '.', '_' or '-'. Together these rule out spaces, extra slashes and '..' traversal.
OWNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
REPO_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"
# Logins are owners, plus the "[bot]" suffix GitHub gives app accounts.
LOGIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOPIC_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")
GITHUB_TOKEN_RE = re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}")
SECRET_KEY_RE = re.compile(r"token|password|passwd|secret|api[_-]?key|credential", re.IGNORECASE)
SECRET_KEYS_ALLOWED = {"token_env", "token_file"}  # they name where a token is, not the token
TOKEN_ADVICE = "tokens belong in an environment variable (github.token_env) or a token file (github.token_file), never in the config"

RESOURCES = ("repo", "issues", "pulls", "comments", "events", "labels", "contributors", "forks", "commits")
Resource = Literal["repo", "issues", "pulls", "comments", "events", "labels", "contributors", "forks", "commits"]


def _shown(value: object, limit: int = 60) -> str:
    """`value` quoted for an error message, cut short when long: a one-line error stays short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(str(value)):,} characters)"


def _check_repo(value: str) -> str:
    owner, slash, name = value.partition("/")
    if not slash:
        raise ValueError(f"expected owner/name, like Tokyo-Metro-Gov/covid19, got {_shown(value)}")
    if not OWNER_RE.fullmatch(owner):
        raise ValueError(f"owner {_shown(owner)} is not a GitHub account name (1-39 letters, digits or hyphens)")
    if not REPO_NAME_RE.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"repo name {_shown(name)} is not a GitHub repo name (1-100 letters, digits, '.', '_' or '-')")
    if name.lower().endswith(".git"):
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


RepoName = Annotated[str, AfterValidator(_check_repo), WithJsonSchema({"type": "string", "pattern": REPO_PATTERN})]
Login = Annotated[str, AfterValidator(_check_login)]
Pattern = Annotated[str, AfterValidator(_check_regex), WithJsonSchema({"type": "string", "format": "regex"})]
EnvName = Annotated[str, AfterValidator(_check_env_name), WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"})]
Topic = Annotated[str, AfterValidator(_check_topic), WithJsonSchema({"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,49}$"})]
PrefCode = Annotated[str, BeforeValidator(_quoted_code), AfterValidator(_check_pref_code),
                     WithJsonSchema({"type": "string", "pattern": r"^(0[1-9]|[1-3][0-9]|4[0-7])$"})]
MuniCode = Annotated[str, BeforeValidator(_quoted_code), AfterValidator(_check_muni_code),
                     WithJsonSchema({"type": "string", "pattern": r"^[0-9]{5,6}$"})]
LocalPath = Annotated[Path, AfterValidator(_expand_user)]
BaseUrl = Annotated[str, AfterValidator(_check_base_url),
                    WithJsonSchema({"type": "string", "format": "uri", "pattern": r"^https?://[^?#\s]+$"})]


Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NonEmpty = Annotated[str, Field(min_length=1)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
Cron = Annotated[str, AfterValidator(_check_cron)]


# ---------------------------------------------------------------------------------------------
# Models


class Strict(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Titles(Strict):
    ja: str | None = Field(None, description="Title in Japanese, for the published site.")
    en: str | None = Field(None, description="Title in English, for the published site.")


class RetrySettings(Strict):
    total: int = Field(5, ge=0, description="Retries of a failed request (5xx, connection errors) before giving up.")
    backoff_factor: Seconds = Field(1.0, description="Exponential backoff: wait backoff_factor * 2**(n-1) seconds before retry n.")
    max_rate_limit_wait: Seconds = Field(
        3600.0,
        description="Longest wait, in seconds, for a rate-limit reset; a later reset stops the harvest "
                    "(it resumes on the next run). GitHub's primary limit resets hourly.")
    secondary_rate_wait: Seconds = Field(
        60.0,
        description="Wait, in seconds, after a secondary rate limit that gives no Retry-After "
                    "(GitHub asks for at least a minute).")


class ThrottleSettings(Strict):
    # Reads default to no pause: the harvester is bounded by the rate limit and
    # github.rate_limit_reserve, and PyGithub's 0.25 s default makes a local simulator run crawl.
    # On a token shared with other tools, set 0.25 or more. Writes keep GitHub's advice of at
    # least one second between content-creating requests (labelling).
    seconds_between_requests: Seconds = Field(
        0.0, description="Pause, in seconds, between any two requests (0: none; 0.25 or more on a shared token).")
    seconds_between_writes: Seconds = Field(
        1.0, description="Pause, in seconds, between two writes (POST/PATCH/PUT/DELETE); GitHub asks for at least 1.")


class GitHubSettings(Strict):
    base_url: BaseUrl = Field(
        "https://api.github.com",
        description="REST API root: https://api.github.com, https://HOST/api/v3 for GitHub Enterprise, "
                    "or the simulator's URL. http(s), without query, fragment or credentials.")
    token_env: list[EnvName] = Field(
        ["GITHUB_TOKEN"],
        description="Names of environment variables holding a token each, read in order; unset ones "
                    "are skipped. Never put a token itself in the config.")
    token_file: LocalPath | None = Field(
        None,
        description="File with tokens, one per line (blank lines and # comments ignored). A relative "
                    "path resolves against the current working directory; ~ is expanded.")
    per_page: int = Field(100, ge=1, le=100, description="Items per page of list requests (GitHub allows 1 to 100).")
    rate_limit_reserve: int = Field(
        200, ge=0, description="Requests of the hourly quota the harvester leaves unused, kept for labelling.")
    timeout: float = Field(30.0, gt=0, allow_inf_nan=False, description="Timeout of one request, in seconds.")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Retry policy for failed requests.")
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings, description="Pauses between requests.")


class BotSettings(Strict):
    logins: list[Login] = Field(
        [], description="Logins of automation accounts (compared case-insensitively), e.g. github-actions[bot].")
    patterns: list[Pattern] = Field(
        [r"\[bot\]$"],
        description="Regular expressions (Python syntax, searched case-insensitively) marking a login as a bot.")

    def is_bot(self, login: str) -> bool:
        """True when `login` is a listed bot or matches a bot pattern (re caches the compiled patterns)."""
        return (login.lower() in (x.lower() for x in self.logins)
                or any(re.search(p, login, re.IGNORECASE) for p in self.patterns))


class HarvestSettings(Strict):
    resources: list[Resource] = Field(
        list(RESOURCES), description=f"What to harvest from each repo, a subset of: {', '.join(RESOURCES)}.")


class ForkDiscovery(Strict):
    enabled: bool = Field(True, description="Find derivatives among the upstream's forks on GitHub.")
    recursive: bool = Field(True, description="Also follow forks of forks, down to max_depth.")
    max_depth: int = Field(3, ge=1, description="How many fork generations to follow when recursive (1: direct forks only).")


class SharedRootDiscovery(Strict):
    enabled: bool = Field(
        True, description="Find derivatives made by copying rather than forking: candidates whose history "
                          "contains the upstream's root commit.")
    search_queries: list[NonEmpty] = Field(
        [], description="GitHub repository search queries whose results are candidates.")
    topics: list[Topic] = Field([], description="GitHub topics whose repos are candidates.")
    owners_other_repos: bool = Field(
        True, description="Also take as candidates the other repos of owners already known to have a derivative.")
    max_candidates: int = Field(500, ge=1, description="Most candidate repos to check for the shared root commit per run.")


class ListedDerivative(Strict):
    repo: RepoName = Field(description="The derivative's owner/name on GitHub.")
    prefecture: str | None = Field(None, description="Prefecture, in Japanese (e.g. 北海道, 兵庫県).")
    pref_code: PrefCode | None = Field(
        None, description='JIS X 0401 prefecture code, two digits as a quoted string: "01" to "47".')
    municipality: str | None = Field(None, description="City or other municipality, in Japanese, for a city's site.")
    muni_code: MuniCode | None = Field(
        None, description='Municipality code (JIS X 0402), 5 digits or 6 with the check digit, as a quoted string.')

    @model_validator(mode="after")
    def _muni_code_in_prefecture(self) -> ListedDerivative:
        # A municipality code starts with its prefecture's code; a mismatch is a copy-paste slip.
        if self.muni_code and self.pref_code and not self.muni_code.startswith(self.pref_code):
            raise ValueError(f"muni_code {_shown(self.muni_code)} is not in prefecture {_shown(self.pref_code)}")
        return self


class DiscoverySettings(Strict):
    forks: ForkDiscovery = Field(default_factory=ForkDiscovery, description="Derivatives found through GitHub's fork graph.")
    shared_root: SharedRootDiscovery = Field(
        default_factory=SharedRootDiscovery, description="Derivatives found by a shared root commit.")
    listed: list[ListedDerivative] = Field(
        [], description="Derivatives named by hand: always harvested, found or not (e.g. restarted histories).")

    @field_validator("listed")
    @classmethod
    def _listed_once(cls, listed: list[ListedDerivative]) -> list[ListedDerivative]:
        seen: set[str] = set()
        for d in listed:
            if d.repo.lower() in seen:  # GitHub names are case-insensitive
                raise ValueError(f"{d.repo} is listed twice")
            seen.add(d.repo.lower())
        return listed


class DatabaseSettings(Strict):
    path: LocalPath = Field(
        Path("var/civicbot.db"),
        description="SQLite database file. A relative path resolves against the current working "
                    "directory (not the config file's folder); ~ is expanded.")


class TriageSettings(Strict):
    gfi_label_names: list[NonEmpty] = Field(
        ["good first issue", "good-first-issue"],
        description="Label names that mean good first issue in the family (compared case-insensitively); "
                    "a maintainer adding one of them is the ground truth.")
    label_to_apply: NonEmpty = Field(
        "good first issue", description="The label civicbot adds (keep the repo's own GFI label name: "
                                        "GitHub's /contribute page and aggregators look for it).")
    allowlist: list[RepoName] = Field(
        [], description="Repos (owner/name) where `civicbot label --apply` may write; elsewhere it only proposes.")
    bot_login: Login | None = Field(
        None, description="civicbot's own GitHub login; labels it added never count as ground truth "
                          "(default: the token's login, asked from GitHub when labelling).")
    threshold: float = Field(
        0.5, ge=0, le=1, description="Least calibrated probability for civicbot to propose or add the label.")
    max_per_repo_per_run: int = Field(3, ge=0, description="Most labels proposed or added per repo in one run.")
    max_per_repo_per_week: int = Field(
        5, ge=0, description="Most labels added per repo in any 7 days (label_audit rows 'applied').")
    comment: bool = Field(
        False, description="Also post a short bilingual (Japanese/English) comment when adding the label "
                           "(off: silent mode).")
    blocking_labels: list[NonEmpty] = Field(
        ["wontfix", "duplicate", "invalid", "question", "waiting", "blocked", "IMPORTANT", "officially-approved"],
        description="Labels that keep an issue out of the candidates (compared case-insensitively).")
    claim_phrases: list[NonEmpty] = Field(
        ["やります", "対応します", "担当します", "着手します", "I'll take", "I'd like to work on",
         "I will work on", "can I take", "assign me", "/assign"],
        description="Comment phrases that claim an issue (searched case-insensitively); a claimed issue is never labelled.")
    label_groups: dict[str, list[NonEmpty]] = Field(
        {"documentation": ["documentation", "docs", "ドキュメント"],
         "i18n": ["i18n", "need-i18n", "翻訳", "translation"],
         "accessibility": ["accessibility", "a11y", "アクセシビリティ"],
         "bug": ["bug", "バグ"],
         "enhancement": ["enhancement", "improve", "improvement", "refactoring"]},
        description="Synonym groups of label names (group name: names); each group is one model feature.")
    min_history: int = Field(
        30, ge=1, description="Least number of positive examples (maintainer-added GFI labels) before the "
                              "model is trained; below it the documented heuristic scores issues.")


class ScheduleSettings(Strict):
    """When `civicbot run` (the daemon) runs each job: cron lines in the project's time zone."""

    harvest: Cron = Field(
        "0 * * * *",
        description="Cron line of the harvest (default hourly), in the project's time zone. 5 fields "
                    "(minute hour day month weekday), or 6 with seconds first (for tests and demos).")
    metrics_after_harvest: bool = Field(
        True, description="Recompute every metric table right after each successful (complete or partial) harvest.")
    triage: Cron | None = Field(
        "30 3 * * *", description="Cron line of the good-first-issue triage (default daily at 03:30); null: never.")
    label: Cron | None = Field(
        "45 3 * * *", description="Cron line of labelling (default daily at 03:45; a dry run unless "
                                  "label_apply); null: never.")
    label_apply: bool = Field(
        False, description="Let the scheduled label job really add labels (in triage.allowlist repos only); "
                           "false: dry run, decisions go to label_audit.")
    publish: Cron | None = Field(
        "0 4 * * *", description="Cron line of the published bundle (default daily at 04:00); null: never.")
    publish_dir: LocalPath = Field(
        Path("var/publish"), description="Folder the scheduled publish job writes the bundle to "
                                         "(relative to the current working directory).")
    misfire_grace_seconds: int = Field(
        300, ge=1, description="A job that could not start at its time (busy or paused) still runs if at most "
                               "this many seconds late; later, it waits for its next time.")
    heartbeat_seconds: float = Field(
        5.0, gt=0, allow_inf_nan=False, description="How often, in seconds, the daemon updates its heartbeat row.")
    job_warn_seconds: float = Field(
        1800.0, gt=0, allow_inf_nan=False,
        description="A job running longer than this many seconds is reported: the daemon logs a warning "
                    "\"job NAME has run for N s\" (again at each further multiple).")


class Config(Strict):
    """One project family: an upstream repo, how to find its derivatives, and how to harvest them."""

    model_config = ConfigDict(title="civicbot project family configuration")

    name: Slug = Field(description="Short name of the project family, e.g. tokyo-covid19 (lowercase, digits, hyphens).")
    title: Titles = Field(default_factory=Titles, description="Human-readable titles.")
    upstream: RepoName = Field(description="The upstream repo, owner/name, e.g. Tokyo-Metro-Gov/covid19.")
    timezone: TimeZoneName = Field(
        "UTC", description="IANA time zone of the project (e.g. Asia/Tokyo), for days and weeks in metrics.")
    github: GitHubSettings = Field(default_factory=GitHubSettings, description="How to reach the GitHub REST API.")
    bots: BotSettings = Field(default_factory=BotSettings, description="Which logins are automation, not people.")
    placeholders: list[Login] = Field(
        [], description="Accounts that stand for unknown authors (e.g. PRs from branches inside the "
                        "organisation's repo): their items count, they never count as people.")
    harvest: HarvestSettings = Field(default_factory=HarvestSettings, description="What to harvest.")
    discovery: DiscoverySettings = Field(
        default_factory=DiscoverySettings, description="How to find the upstream's derivatives.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where the harvest is stored.")
    triage: TriageSettings = Field(
        default_factory=TriageSettings, description="Good-first-issue triage: scoring and the labelling policy.")
    schedule: ScheduleSettings = Field(
        default_factory=ScheduleSettings, description="When the daemon (`civicbot run`) runs each job.")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# ---------------------------------------------------------------------------------------------
# Loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate one config file. Raises ConfigError (one line) on any problem; never writes."""
    source = os.fspath(path)
    data = _parse(source, _read_text(source))
    issues = _secret_issues(data)
    if issues:
        raise ConfigError(source, issues)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, [_issue(err) for err in e.errors()]) from None


def _read_text(source: str) -> str:
    try:
        raw = Path(source).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, [ConfigIssue("", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(source, [ConfigIssue("", "is a directory, not a config file")]) from None
    except OSError as e:
        raise ConfigError(source, [ConfigIssue("", f"cannot read: {e.strerror or e}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        issue = ConfigIssue(f"line {line}", f"not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8")
        raise ConfigError(source, [issue]) from None


def _parse(source: str, text: str) -> dict:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(source, [ConfigIssue(where, f"YAML error: {e.problem or e.context or 'invalid YAML'}")]) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, [ConfigIssue("", f"YAML error: {e}")]) from None
    if data is None:
        raise ConfigError(source, [ConfigIssue("", "the file is empty; a config needs at least name and upstream")])
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", f"the top level must be a mapping of settings, not a {_yaml_kind(data)}")])
    return data


def _yaml_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), type(value).__name__)


def _secret_issues(data: Any) -> list[ConfigIssue]:
    """Find tokens written into the config: secret-named keys with a value, token-shaped strings.

    Runs before validation so a token never reaches a validation message. Messages name the
    place, never the value.
    """
    issues: list[ConfigIssue] = []
    seen: set[int] = set()  # YAML aliases share (or loop back to) nodes: visit each once

    def walk(value: Any, path: tuple) -> None:
        if isinstance(value, (dict, list)):
            if id(value) in seen:
                return
            seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                where = _dotted((*path, key))
                if isinstance(key, str) and GITHUB_TOKEN_RE.search(key):
                    issues.append(ConfigIssue(_dotted(path), f"a key looks like a GitHub token; {TOKEN_ADVICE}"))
                    continue
                if (isinstance(key, str) and SECRET_KEY_RE.search(key) and key not in SECRET_KEYS_ALLOWED
                        and item not in (None, "", [], {})):
                    issues.append(ConfigIssue(where, f"secrets are not allowed in the config; {TOKEN_ADVICE}"))
                    continue
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))
        elif isinstance(value, str) and GITHUB_TOKEN_RE.search(value):
            issues.append(ConfigIssue(_dotted(path), f"this looks like a GitHub token; {TOKEN_ADVICE}"))

    walk(data, ())
    return issues


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _issue(err: dict) -> ConfigIssue:
    """A pydantic error as a ConfigIssue, without the input value (it could be a secret)."""
    loc = tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    elif err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        message = f"unknown key; expected one of: {', '.join(allowed)}" if allowed else "unknown key"
    return ConfigIssue(_dotted(loc), message)


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the model at `loc` accepts (to suggest them when a key is unknown)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        while get_origin(annotation) is not None:  # list[X], X | None
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        model = annotation
    return list(getattr(model, "model_fields", ()))


# ---------------------------------------------------------------------------------------------
# Tokens


def resolve_tokens(config: Config, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The tokens named by github.token_env and github.token_file, in that order, deduplicated.

    Unset environment variables are skipped, and no token at all is allowed: the caller then
    runs unauthenticated (and should say so). A variable set but empty, or a token file that is
    missing, unreadable or holds no token, is a ConfigError naming it. No error shows a token.
    """
    tokens: list[str] = []
    for name in config.github.token_env:
        if name not in environ:
            continue
        value = environ[name].strip()
        if not value:
            raise ConfigError(f"environment variable {name}", [ConfigIssue("", "is set but empty")])
        _check_token_shape(value, f"environment variable {name}")
        tokens.append(value)
    if config.github.token_file is not None:
        tokens.extend(_read_token_file(config.github.token_file))
    return list(dict.fromkeys(tokens))


def _read_token_file(path: Path) -> list[str]:
    source = f"token file {path}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, [ConfigIssue("", "no such file")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [ConfigIssue("", "not UTF-8 text")]) from None
    except OSError as e:
        raise ConfigError(source, [ConfigIssue("", f"cannot read: {e.strerror or type(e).__name__}")]) from None
    tokens = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            _check_token_shape(line, source, f"line {number}")
            tokens.append(line)
    if not tokens:
        raise ConfigError(source, [ConfigIssue("", "holds no token (one per line expected)")])
    return tokens


def _check_token_shape(token: str, source: str, where: str = "") -> None:
    # A token goes into an HTTP header: inner whitespace or non-ASCII means a pasting mistake.
    if not token.isascii() or any(c.isspace() for c in token):
        raise ConfigError(source, [ConfigIssue(where, "the token contains spaces or non-ASCII characters (one token per line)")])


# ---------------------------------------------------------------------------------------------
# JSON Schema


def config_json_schema() -> dict:
    """The JSON Schema of a config file, as committed in config/schema.json."""
    schema = Config.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


if __name__ == "__main__":  # python -m civicbot.config > config/schema.json
    import json

    json.dump(config_json_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
