"""The config's models: one pydantic model per section of a config file (`Config` is the whole
file). Loading, errors, tokens and the JSON Schema are in civicbot.config.loading; import both from
`civicbot.config`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from civicbot.config_values import (
    RESOURCES,
    BaseUrl,
    Cron,
    EnvNames,
    FilePath,
    LocalPath,
    Login,
    MuniCode,
    NonEmpty,
    Pattern,
    PrefCode,
    RepoName,
    Resource,
    Seconds,
    Slug,
    TimeZoneName,
    Topic,
)
from civicbot.names import shown as _shown

# Every section's model (and BranchGlob, a field type): civicbot.config re-exports exactly these.
__all__ = [
    "AffiliationSettings", "AutomationDetection", "BatchDetection", "BotSettings", "BranchGlob", "Config",
    "DatabaseSettings", "DiscoverySettings", "ForkDiscovery", "GitHubSettings", "HarvestSettings", "Identity",
    "ListedDerivative", "PublicValueSettings", "PublishSettings", "ReleaseSettings", "RetrySettings",
    "ScheduleSettings", "SharedRootDiscovery", "SiteListDiscovery", "Strict", "ThrottleSettings", "Titles",
    "TriageSettings",
]

# ---------------------------------------------------------------------------------------------
# Models


class Strict(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Titles(Strict):
    ja: str | None = Field(None, description="Title in Japanese, for the published site.")
    en: str | None = Field(None, description="Title in English, for the published site.")


class RetrySettings(Strict):
    total: int = Field(5, ge=0, le=20, description="Retries of a failed request (5xx, connection errors) before giving up.")
    backoff_factor: Seconds = Field(1.0, le=60, description="Exponential backoff: wait backoff_factor * 2**(n-1) seconds before retry n.")
    max_rate_limit_wait: Seconds = Field(
        3600.0, le=86_400,
        description="Longest wait, in seconds, for a rate-limit reset; a later reset stops the harvest "
                    "(it resumes on the next run). GitHub's primary limit resets hourly.")
    secondary_rate_wait: Seconds = Field(
        60.0, le=3600,
        description="Wait, in seconds, after a secondary rate limit that gives no Retry-After "
                    "(GitHub asks for at least a minute).")


class ThrottleSettings(Strict):
    # Reads default to no pause: the harvester is bounded by the rate limit and
    # github.rate_limit_reserve, and PyGithub's 0.25 s default makes a local simulator run crawl.
    # On a token shared with other tools, set 0.25 or more. Writes keep GitHub's advice of at
    # least one second between content-creating requests (labelling).
    seconds_between_requests: Seconds = Field(
        0.0, le=60, description="Pause, in seconds, between any two requests (0: none; 0.25 or more on a shared token).")
    seconds_between_writes: Seconds = Field(
        1.0, le=60, description="Pause, in seconds, between two writes (POST/PATCH/PUT/DELETE); GitHub asks for at least 1.")


class GitHubSettings(Strict):
    base_url: BaseUrl = Field(
        "https://api.github.com",
        description="REST API root: https://api.github.com, https://HOST/api/v3 for GitHub Enterprise, "
                    "or the simulator's URL. http(s), without query, fragment or credentials.")
    token_env: EnvNames = Field(
        ["GITHUB_TOKEN"],
        description="Names of environment variables holding a token each, read in order; unset ones "
                    "are skipped (one name alone may be written as a string). Never put a token itself "
                    "in the config.")
    token_file: FilePath | None = Field(
        None,
        description="File with tokens, one per line (blank lines and # comments ignored). A relative "
                    "path resolves against the current working directory; ~ is expanded.")
    per_page: int = Field(100, ge=1, le=100, description="Items per page of list requests (GitHub allows 1 to 100).")
    rate_limit_reserve: int = Field(
        200, ge=0, le=1_000_000, description="Requests of the hourly quota the harvester leaves unused, kept for labelling.")
    timeout: float = Field(30.0, gt=0, le=600, allow_inf_nan=False, description="Timeout of one request, in seconds.")
    # Bounds on what an answer may cost (docs/harvest.md "Hostile or broken answers"); each
    # refusal fails that repo with its reason and the run goes on.
    total_timeout: float = Field(
        120.0, gt=0, le=3600, allow_inf_nan=False,
        description="Most seconds one request may take from connecting to its last byte (timeout bounds "
                    "each read; this bounds the whole, so a trickling answer cannot stall the harvest).")
    max_body_mb: float = Field(
        50.0, gt=0, le=1024, allow_inf_nan=False,
        description="Largest answer read, in megabytes (GitHub's largest pages are a few MB); a larger one is refused.")
    max_pages: int = Field(
        10_000, ge=1, le=1_000_000,
        description="Most pages read of one list (10,000 pages of 100: a million items); past it the list is refused.")
    max_redirects: int = Field(
        5, ge=0, le=30, description="Most redirects followed in a row for one request (a renamed repo needs one).")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Retry policy for failed requests.")
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings, description="Pauses between requests.")


class AutomationDetection(Strict):
    """Signs that an account not listed as a bot is automation (civicbot.metrics.people)."""

    enabled: bool = Field(True, description="Detect likely automation accounts (reported by doctor and summary).")
    name_patterns: list[Pattern] = Field(
        [r"(^|[-_.])bots?([-_.]|$)", r"updater", r"automation", r"auto-?update"],
        description="Regular expressions (searched case-insensitively) on the login and name of an automation account.")
    min_prs: int = Field(10, ge=1, description="PRs an account needs before its PRs' branches or times are judged.")
    branch_share: float = Field(
        0.8, ge=0, le=1, allow_inf_nan=False,
        description="Share of an account's PRs from automation branches (bots.branch_patterns) that marks it automation.")
    same_minute_share: float = Field(
        0.5, gt=0, le=1, allow_inf_nan=False,
        description="Share of an account's PRs opened at the same minute past the hour that marks it automation "
                    "(a scheduled job; people's minutes spread over the hour).")


BranchGlob = Annotated[str, Field(min_length=1)]


class BotSettings(Strict):
    logins: list[Login] = Field(
        [], description="Logins of automation accounts (compared case-insensitively), e.g. github-actions[bot].")
    patterns: list[Pattern] = Field(
        [r"\[bot\]$"],
        description="Regular expressions (Python syntax, searched case-insensitively) marking a login as a bot.")
    not_bots: list[Login] = Field(
        [], description="Logins that are people even though detection, a pattern or a branch says automation "
                        "(GitHub's type Bot and [bot] logins stay bots).")
    branch_patterns: list[BranchGlob] = Field(
        ["data-bot/*", "update-data/*", "data-update/*", "create-pull-request/*", "translations_*", "dependabot/*",
         "renovate/*", "l10n_*"],
        description="Head branches (shell-style globs, case-insensitive) of PRs that are automation whoever opened them.")
    title_patterns: list[Pattern] = Field(
        [r"^\[(bot|auto|automated)\]", r"^automated (data )?update"],
        description="Regular expressions (searched case-insensitively) on PR titles that mark a PR as automation.")
    detect: AutomationDetection = Field(
        default_factory=AutomationDetection, description="Detection of automation accounts that look human.")

    def is_bot(self, login: str) -> bool:
        """True when `login` is a listed bot or matches a bot pattern (re caches the compiled patterns)."""
        return (login.lower() in (x.lower() for x in self.logins)
                or any(re.search(p, login, re.IGNORECASE) for p in self.patterns))


class Identity(Strict):
    """Accounts and commit author names that are one person (civicbot.metrics.people, `persons`)."""

    logins: list[Login] = Field([], description="GitHub logins of the person (compared case-insensitively).")
    names: list[NonEmpty] = Field(
        [], description="Commit author names of the person, as in git (compared case-insensitively, spaces "
                        "collapsed); they join commits that no account is linked to.")

    @model_validator(mode="after")
    def _two_or_more(self) -> Identity:
        if len(self.logins) + len(self.names) < 2:
            raise ValueError("an identities entry joins two or more logins or names into one person; list at "
                             "least two (e.g. {logins: [taro, taro-work]} or {logins: [taro], names: [Taro Yamada]})")
        return self


class AffiliationSettings(Strict):
    """Whom contributors work for (civicbot/metrics/affiliations.py): names are compared normalised."""

    aliases: dict[NonEmpty, list[NonEmpty]] = Field(
        {}, description="Organisation name → other ways people write it in their profile's company "
                        "(e.g. Code for Japan: [一般社団法人コード・フォー・ジャパン]); compared after "
                        "normalisation (case, @, spaces, 株式会社/Inc./Ltd. ... removed).")
    government: list[NonEmpty] = Field([], description="Organisations that are government bodies (on top of the defaults: 都庁, 県庁, 市役所, Ministry ...).")
    npo: list[NonEmpty] = Field([], description="Organisations that are NPOs or civic-tech groups (defaults: 一般社団法人, NPO, Code for ...).")
    academic: list[NonEmpty] = Field([], description="Universities and research institutes (defaults: 大学, University ...).")
    company: list[NonEmpty] = Field([], description="Companies (defaults: 株式会社, Inc., Ltd., GmbH ...).")
    individual: list[NonEmpty] = Field([], description="Words that mean working for oneself (defaults: freelance, フリーランス, self-employed ...).")


class ReleaseSettings(Strict):
    """Which merged PRs are release or sync merges rather than proposals (civicbot.metrics.people)."""

    long_lived_branches: list[BranchGlob] = Field(
        ["development", "develop", "dev", "dev-*", "main", "master", "staging", "gh-pages", "production",
         "release", "release/*", "deploy/*"],
        description="Head branches (globs, case-insensitive) that, inside the same repo, make a PR a release/sync merge.")
    base_branches: list[BranchGlob] = Field(
        ["gh-pages", "production"],
        description="Base branches (globs) into which every PR is a release merge, whatever its head.")


class BatchDetection(Strict):
    enabled: bool = Field(
        True, description="Ask GitHub's GraphQL API, up to 100 repos a request, whether anything civicbot harvests "
                          "changed; an unchanged repo then costs no REST request (docs/harvest.md).")
    batch_size: int = Field(100, ge=1, le=100, description="Repos per GraphQL request (GitHub allows at most 100).")
    full_pass_hours: float = Field(
        24, gt=0, le=8760, description="Hours after which a repo gets a REST pass even when GraphQL says it did not "
                                       "change (it catches what GraphQL cannot see, e.g. an edited comment).")
    graphql_reserve: int = Field(
        200, ge=0, le=1_000_000, description="GraphQL points of the hourly budget left unused; below it the harvest "
                                             "asks REST only.")


class HarvestSettings(Strict):
    resources: list[Resource] = Field(
        list(RESOURCES), description=f"What to harvest from each repo, a subset of: {', '.join(RESOURCES)} "
                                     "(profiles: each person's GitHub profile, after the repos).")
    profile_refresh_days: int = Field(
        30, ge=1, le=3650, description="Days before a fetched profile is asked again (conditionally: an unchanged "
                                       "profile then costs no quota).")
    profile_budget: int = Field(
        1000, ge=0, le=1_000_000, description="Most profile requests per run (new people first, then the oldest "
                                              "fetched); the rest wait for the next run.")
    review_budget: int = Field(
        500, ge=0, le=1_000_000, description="Requests per run for the reviews of pull requests (one per PR changed "
                                             "since the last pass, oldest first); what does not fit waits for the "
                                             "next run.")
    batch: BatchDetection = Field(default_factory=BatchDetection,
                                  description="Batch change detection over GraphQL (docs/harvest.md).")


class PublicValueSettings(Strict):
    """The parameters of the public-value estimate (civicbot.metrics.public_value, docs/metrics.md)."""

    annual_wage_yen: int = Field(
        6_000_000, ge=1, le=1_000_000_000,
        description="A developer's yearly salary in yen, before overhead, for the replacement-cost estimate.")
    overhead: float = Field(
        2.4, ge=1, le=10, allow_inf_nan=False,
        description="Multiplier from salary to the full cost of a developer (office, management, tax): "
                    "scc's default 2.4.")


class PublishSettings(Strict):
    """What the published tables may show (docs/metrics.md, `contributors_by_place`)."""

    min_place_count: int = Field(
        3, ge=1, le=1000,
        description="Fewest people a country or prefecture must have in a period to be shown by name in "
                    "contributors_by_place; smaller places are counted together as other countries or "
                    "other prefectures, so that no row points at one or two people (1: every place).")


class ForkDiscovery(Strict):
    enabled: bool = Field(True, description="Find derivatives among the upstream's forks on GitHub.")
    recursive: bool = Field(True, description="Also follow forks of forks, down to max_depth.")
    max_depth: int = Field(3, ge=1, le=20, description="How many fork generations to follow when recursive (1: direct forks only).")


class SharedRootDiscovery(Strict):
    enabled: bool = Field(
        True, description="Find derivatives made by copying rather than forking: candidates whose history "
                          "contains the upstream's root commit.")
    search_queries: list[NonEmpty] = Field(
        [], description="GitHub repository search queries whose results are candidates.")
    topics: list[Topic] = Field([], description="GitHub topics whose repos are candidates.")
    owners_other_repos: bool = Field(
        True, description="Also take as candidates the other repos of owners already known to have a derivative.")
    max_candidates: int = Field(500, ge=1, le=100_000, description="Most candidate repos to check for the shared root commit per run.")


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


class SiteListDiscovery(Strict):
    enabled: bool = Field(
        True, description="Read the upstream's own list of derived sites (a Markdown file of its repo) and add "
                          "every GitHub repo it links as a derivative; sites without a repo are kept as known.")
    path: str = Field("FORKED_SITES.md", min_length=1,
                      description="The list's path in the upstream repo (the Tokyo site keeps FORKED_SITES.md).")


class DiscoverySettings(Strict):
    forks: ForkDiscovery = Field(default_factory=ForkDiscovery, description="Derivatives found through GitHub's fork graph.")
    shared_root: SharedRootDiscovery = Field(
        default_factory=SharedRootDiscovery, description="Derivatives found by a shared root commit.")
    site_list: SiteListDiscovery = Field(
        default_factory=SiteListDiscovery, description="Derivatives the upstream lists itself (contents API).")
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
    path: FilePath = Field(
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
    max_per_repo_per_run: int = Field(3, ge=0, le=10_000, description="Most labels proposed or added per repo in one run.")
    max_per_repo_per_week: int = Field(
        5, ge=0, le=10_000, description="Most labels added per repo in any 7 days (label_audit rows 'applied').")
    comment: bool = Field(
        False, description="Also post a short bilingual (Japanese/English) comment when adding the label "
                           "(off: silent mode).")
    top_per_repo: int = Field(
        5, ge=1, le=1000, description="Proposals shown per repo: the best-ranked open issues that are not claimed, "
                                      "assigned or linked (whatever their probability; the threshold and caps "
                                      "only limit `label --apply`).")
    blocking_labels: list[NonEmpty] = Field(
        ["wontfix", "duplicate", "invalid", "question", "waiting", "blocked"],
        description="Labels that keep an issue out of the candidates in every repo of the family (compared "
                    "case-insensitively). Importance labels such as IMPORTANT or officially-approved do not "
                    "block by default: real good first issues often carry them.")
    blocking_labels_by_repo: dict[RepoName, list[NonEmpty]] = Field(
        {}, description="More blocking labels for one repo (owner/name: labels), added to blocking_labels there.")
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
        30, ge=1, le=1_000_000, description="Least number of positive examples (maintainer-added GFI labels) before the "
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
        300, ge=1, le=604_800, description="A job that could not start at its time (busy or paused) still runs if at most "
                               "this many seconds late; later, it waits for its next time.")
    heartbeat_seconds: float = Field(
        5.0, gt=0, le=3600, allow_inf_nan=False, description="How often, in seconds, the daemon updates its heartbeat row.")
    job_warn_seconds: float = Field(
        1800.0, gt=0, le=30 * 86400, allow_inf_nan=False,
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
    launched: date | None = Field(
        None, description="The day the upstream's site went public (project time zone), e.g. 2020-03-03: the "
                          "site's first three weeks start there. Empty: the day the upstream repo was created.")
    github: GitHubSettings = Field(default_factory=GitHubSettings, description="How to reach the GitHub REST API.")
    bots: BotSettings = Field(default_factory=BotSettings, description="Which logins are automation, not people.")
    identities: list[Identity] = Field(
        [], description="People with more than one account or commit name: each entry is one person "
                        "(`civicbot doctor` lists likely duplicates with the entry to paste).")
    placeholders: list[Login] = Field(
        [], description="Accounts that stand for unknown authors (e.g. PRs from branches inside the "
                        "organisation's repo): their items count, they never count as people.")
    affiliations: AffiliationSettings = Field(
        default_factory=AffiliationSettings, description="Whom contributors work for: organisation aliases and kinds.")
    releases: ReleaseSettings = Field(
        default_factory=ReleaseSettings, description="Release and sync merges, counted apart from proposals.")
    harvest: HarvestSettings = Field(default_factory=HarvestSettings, description="What to harvest.")
    discovery: DiscoverySettings = Field(
        default_factory=DiscoverySettings, description="How to find the upstream's derivatives.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where the harvest is stored.")
    triage: TriageSettings = Field(
        default_factory=TriageSettings, description="Good-first-issue triage: scoring and the labelling policy.")
    schedule: ScheduleSettings = Field(
        default_factory=ScheduleSettings, description="When the daemon (`civicbot run`) runs each job.")
    public_value: PublicValueSettings = Field(
        default_factory=PublicValueSettings,
        description="Salary and overhead for the public-value estimate (replacement cost of the reused code).")
    publish: PublishSettings = Field(
        default_factory=PublishSettings, description="What the published tables may show: the smallest place shown.")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("identities")
    @classmethod
    def _one_entry_per_login(cls, identities: list[Identity]) -> list[Identity]:
        seen: set[str] = set()
        for entry in identities:
            for login in entry.logins:
                if login.lower() in seen:  # GitHub logins are case-insensitive
                    raise ValueError(f"login {login} is in two identities entries; put everything of that person "
                                     "in one entry")
                seen.add(login.lower())
        return identities
