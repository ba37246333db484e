"""The contribution metrics' sources, read once (`Sources`), and the `activity` table.

`Sources` reads each source table once (items, comments, reviews, users with their persons and
organisations) and builds the activity rows that civicbot.metrics.contribution, .periodic and
.origins share. Stored UTC text is decoded here, and calendar periods (weeks, months) are taken
in the project's time zone. Definitions: docs/metrics.md.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import sqlite_utils

from civicbot.config import Config
from civicbot.store.schema import PLAUSIBLE_FROM, plausible_until

from .affiliations import companies
from .people import person_of_user, read_persons, reviewers, write_classification
from .reviews import human_reviews
from .summary import contributions
from .tables import replace_frame as _replace

INACTIVE_DAYS = 90
NEWCOMER_DAYS = 30
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FAMILY = "family"
PERIOD_KINDS = ("week", "month")

ACTIVITY_COLUMNS = {
    "kind": str, "source_id": int, "user_id": int, "login": str, "is_person": int, "is_bot": int,
    "repo_id": int, "item_id": int, "at": str, "local_date": str, "week": str, "month": str,
    "person_id": str,
}
FAMILY_REPOS = "SELECT DISTINCT repo_id FROM discoveries"


# ---------------------------------------------------------------------------------------------
# Reading and time


def _query(db: sqlite_utils.Database, sql: str, params=()) -> pd.DataFrame:
    return pd.read_sql_query(sql, db.conn, params=params)


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
# the unit pandas' parser gives (the arithmetic on these times must stay exactly the same)
_UTC_DTYPE = pd.to_datetime(pd.Series(["2020-01-01T00:00:00Z"]), format=TIME_FORMAT).dtype
_SEPARATORS = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b"Z", 20: b"\0"}


def _utc(text: pd.Series) -> pd.Series:
    """Stored UTC text -> naive datetime64 (UTC); NULL -> NaT.

    The stored format (TIME_FORMAT, fixed width) is decoded on the bytes with numpy, many times
    faster than strptime; anything that is not exactly that format goes to pandas' parser.
    Implausible times (schema.is_plausible), say the year 9999, are NaT: they would overflow."""
    text = text.where(text.isna() | ((text >= PLAUSIBLE_FROM) & (text <= plausible_until())))
    values = text.to_numpy(dtype=object)
    missing = pd.isna(values)
    try:
        raw = np.array(values[~missing].tolist(), dtype="S21")
    except (UnicodeError, TypeError, ValueError):
        raw = None
    if raw is not None and raw.size and not missing.all():
        b = raw.view(np.uint8).reshape(-1, 21)
        d = b[:, _DIGITS].astype(np.int64) - 48
        ok = bool(((d >= 0) & (d <= 9)).all()) and all(
            bool((b[:, i] == ord(c)).all()) for i, c in _SEPARATORS.items())
        if ok:
            year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
            month = d[:, 4] * 10 + d[:, 5]
            day, hour = d[:, 6] * 10 + d[:, 7], d[:, 8] * 10 + d[:, 9]
            minute, second = d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
            months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
            days = months.astype("datetime64[D]") + (day - 1)
            ok = bool(((month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & (minute < 60) & (second < 60)
                       & (days.astype("datetime64[M]") == months)).all())
        if ok:
            out = np.full(len(values), np.datetime64("NaT"), dtype=_UTC_DTYPE)
            out[~missing] = (days.astype("datetime64[s]") + (hour * 3600 + minute * 60 + second)).astype(_UTC_DTYPE)
            return pd.Series(out, index=text.index, name=text.name)
    return pd.to_datetime(text, format=TIME_FORMAT)


def _local(utc: pd.Series, zone: str) -> pd.Series:
    """Naive UTC datetimes -> naive wall-clock datetimes in `zone`."""
    return utc.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)


def _period_start(local: pd.Series, kind: str) -> pd.Series:
    """Start (local midnight) of the calendar week (Monday) or month holding each local time."""
    days = local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if kind == "week":
        weekday = (days.view("int64") + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        start = days - weekday.astype("timedelta64[D]")
    else:
        start = days.astype("datetime64[M]").astype("datetime64[D]")
    return pd.Series(start.astype("datetime64[ns]"), index=local.index)


def _period_end(start: pd.Series | pd.DatetimeIndex, kind: str):
    if kind == "week":
        return start + pd.Timedelta(days=7)
    values = np.asarray(start, dtype="datetime64[ns]").astype("datetime64[M]") + 1
    return pd.DatetimeIndex(values.astype("datetime64[ns]"))


def _text_dates(values, fmt: str = "%Y-%m-%d") -> pd.Series:
    """Format many datetimes that share few distinct values (days, periods) fast."""
    series = pd.Series(values)
    codes, uniques = pd.factorize(series)
    texts = pd.Index(uniques).strftime(fmt).to_numpy(dtype=object)
    out = np.where(codes >= 0, texts[np.maximum(codes, 0)] if len(texts) else None, None)
    return pd.Series(out, index=series.index, dtype=object)


def data_end(db: sqlite_utils.Database) -> str | None:
    """The data's end: the latest item creation, close or merge, or comment, in the family (UTC);
    implausible times (schema.is_plausible) are ignored."""
    parts = [f"SELECT max({column}) AS t FROM {table} WHERE repo_id IN ({FAMILY_REPOS}) "
             f"AND {column} BETWEEN :earliest AND :latest"
             for table, column in (("items", "created_at"), ("items", "closed_at"), ("items", "merged_at"),
                                   ("comments", "created_at"))]
    return db.execute(f"SELECT max(t) FROM ({' UNION ALL '.join(parts)})",
                      {"earliest": PLAUSIBLE_FROM, "latest": plausible_until()}).fetchone()[0]


def _users(db: sqlite_utils.Database, config: Config) -> pd.DataFrame:
    """Every account with `is_person` and `is_bot` (automation) as civicbot.metrics.people decides,
    and its `person_id` (accounts of one person share it: people are counted by it)."""
    users = _query(db, """SELECT u.id AS user_id, u.login, u.company, coalesce(a.is_person, 0) AS is_person,
                                 coalesce(a.is_automation, 0) AS is_bot
                          FROM users u LEFT JOIN accounts a ON a.user_id = u.id""")
    persons = read_persons(db)
    accounts = persons[persons["kind"] == "account"]
    accounts = accounts.set_index(accounts["user_id"].astype("int64"))
    users["person_id"] = _lookup(users["user_id"], person_of_user(persons)).fillna("user:" + users["user_id"].astype(str))
    # a person joined to automation (an e-mail shared with a bot) is not counted as a person
    users["is_person"] = users["is_person"] & _lookup(users["user_id"], accounts["is_person"]).fillna(1).astype(bool)
    users[["is_person", "is_bot"]] = users[["is_person", "is_bot"]].astype("int64")
    read = companies(users["company"], config.affiliations)  # the one reading of a company
    users["org"], users["org_kind"] = read["organisation"], read["kind"]
    return users


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """`table[key]` for each key (missing: NaT/NaN), keeping `table`'s dtype and `keys`' index.

    Series.map would do, but pandas 3 turns an empty datetime `table` into float and then fails
    ("Cannot cast DatetimeArray to dtype float64"): a family without comments crashed."""
    return pd.Series(table.reindex(keys.to_numpy()).to_numpy(), index=keys.index, name=keys.name)


KINDS = np.array(["comment", "issue", "pr"], dtype=object)  # activity kinds, in their sort order


class Sources:
    """The source tables of the family, each read by one query and parsed once, shared by the writers.

    `write_contribution_metrics` builds one and hands it to the three writers; each writer called
    alone builds its own. Everything is computed lazily, on first use.
    """

    def __init__(self, db: sqlite_utils.Database, config: Config, classified: bool = False):
        self.db, self.config = db, config
        if not classified:  # a writer called alone: `accounts` and `pr_kinds` as this config says
            write_classification(db, config)

    @cached_property
    def users(self) -> pd.DataFrame:
        return _users(self.db, self.config)

    @cached_property
    def items(self) -> pd.DataFrame:
        """Family items; `created_text` is the stored creation time, the *_at columns parsed (UTC)."""
        items = _query(self.db, f"""SELECT i.id, i.repo_id, i.is_pull_request, i.user_id, i.created_at, i.closed_at,
                                          i.merged_at, k.pr_kind
                                   FROM items i LEFT JOIN pr_kinds k ON k.item_id = i.id
                                   WHERE i.repo_id IN ({FAMILY_REPOS})""")
        items["created_text"] = items["created_at"]
        for column in ("created_at", "closed_at", "merged_at"):
            items[column] = _utc(items[column])
        items["is_pull_request"] = items["is_pull_request"].fillna(0).astype("int64")
        return items

    @cached_property
    def comments(self) -> pd.DataFrame:
        comments = _query(self.db, f"""SELECT id, user_id, repo_id, item_id, created_at AS created_text
                                      FROM comments WHERE repo_id IN ({FAMILY_REPOS})""")
        comments["created_at"] = _utc(comments["created_text"])
        return comments

    @cached_property
    def reviews(self) -> pd.DataFrame:
        """Reviews of family PRs (people.reviewers), automation's left out; `at` parsed (UTC)."""
        reviews = human_reviews(reviewers(self.db), self.users, self.items["id"])
        return reviews.assign(at=_utc(reviews["at"])).dropna(subset=["at"])

    @cached_property
    def end(self) -> str | None:
        return data_end(self.db)

    @cached_property
    def first_responses(self) -> pd.Series:
        """Per item id: when someone other than its author (another person: not one of the author's
        other accounts), and not a bot, first commented (UTC)."""
        users, items = self.users, self.items
        comments = self.comments[["item_id", "user_id", "created_at"]]
        comments = comments[comments["item_id"].notna() & comments["user_id"].notna()]
        comments = comments.astype({"item_id": "int64", "user_id": "int64"})
        human = users.loc[users["is_bot"] == 0, "user_id"]
        comments = comments[comments["user_id"].isin(human)]
        author = items.set_index("id")["user_id"]
        person = pd.Series(users["person_id"].to_numpy(dtype=object), index=users["user_id"].to_numpy())
        of_author = _lookup(comments["item_id"].map(author).dropna().astype("int64"), person)
        same = comments["user_id"].map(person).reindex(comments.index).to_numpy() == \
            of_author.reindex(comments.index).to_numpy()
        comments = comments[~same]
        firsts = comments["created_at"].groupby(comments["item_id"].to_numpy()).min()
        return firsts.astype(_UTC_DTYPE)  # a datetime Series even when there is no comment at all

    @cached_property
    def took_part(self) -> pd.DataFrame:
        """Persons' contributions of every kind in the family (summary.contributions, the one definition
        of taking part: commits, issues, PRs, comments, reviews; what the summary, the report and the
        dashboards' people count read from the `contributions` table): person_id, repo_id, at (UTC),
        and the local day, week and month it falls in."""
        who = contributions(self.db, [r[0] for r in self.db.execute(FAMILY_REPOS)])
        who = who[who["is_person"].astype(bool).to_numpy()]
        at = _utc(who["at"].reset_index(drop=True))
        keep = at.notna().to_numpy()
        at, local = at[keep], _local(at[keep], self.config.timezone)
        return pd.DataFrame({"person_id": who["person_id"].to_numpy(dtype=object)[keep],
                             "repo_id": who["repo_id"].to_numpy()[keep].astype("int64"), "at": at.to_numpy(),
                             "local_date": _text_dates(local.dt.floor("D")).to_numpy(),
                             **{f"{kind}_at": _period_start(local, kind).to_numpy() for kind in PERIOD_KINDS}})

    @cached_property
    def activity(self) -> pd.DataFrame:
        """The rows of `activity`, in table order, plus parsed columns for the other writers:
        `at_utc` (datetime), `week_at` and `month_at` (local period starts)."""
        items, comments, users = self.items, self.comments, self.users
        kind = np.concatenate([np.where(items["is_pull_request"].to_numpy() != 0, 2, 1),
                               np.zeros(len(comments), dtype="int64")])
        source_id = np.concatenate([items["id"].to_numpy(), comments["id"].to_numpy()])
        at_utc = np.concatenate([items["created_at"].to_numpy(dtype="datetime64[ns]"),
                                 comments["created_at"].to_numpy(dtype="datetime64[ns]")])
        # the stored order: by time (missing last), kind, id (stable)
        key = at_utc.view("int64").copy()
        key[np.isnat(at_utc)] = np.iinfo("int64").max
        order = np.lexsort((source_id, kind, key))

        def column(a: pd.Series, b: pd.Series) -> np.ndarray:
            parts = [p for p in (a, b) if len(p)] or [a]  # an empty part must not decide the dtype
            return pd.concat(parts, ignore_index=True).to_numpy()[order]

        act = pd.DataFrame({
            "kind": KINDS[kind[order]],
            "source_id": source_id[order],
            "user_id": column(items["user_id"], comments["user_id"]),
        })
        where = pd.Index(users["user_id"]).get_indexer(act["user_id"])
        known = where >= 0
        pick = np.maximum(where, 0)
        act["login"] = np.where(known, users["login"].to_numpy(dtype=object)[pick], None) if len(users) \
            else None
        for flag in ("is_person", "is_bot"):
            act[flag] = np.where(known, users[flag].to_numpy()[pick], 0).astype("int64") if len(users) else 0
        act["person_id"] = np.where(known, users["person_id"].to_numpy(dtype=object)[pick], None) if len(users) \
            else None
        act["org"] = np.where(known, users["org"].to_numpy(dtype=object)[pick], np.nan) if len(users) \
            else np.nan
        act["repo_id"] = column(items["repo_id"], comments["repo_id"])
        act["item_id"] = column(items["id"], comments["item_id"])
        act["at"] = column(items["created_text"], comments["created_text"])
        act["at_utc"] = at_utc[order]
        local = _local(act["at_utc"], self.config.timezone)
        act["local_date"] = _text_dates(local.dt.floor("D"))
        for period in PERIOD_KINDS:
            act[f"{period}_at"] = _period_start(local, period)
        act["week"] = _text_dates(act["week_at"])
        act["month"] = _text_dates(act["month_at"], "%Y-%m")
        return act


def _sources(db: sqlite_utils.Database, config: Config, sources: Sources | None) -> Sources:
    return sources if sources is not None else Sources(db, config)


# ---------------------------------------------------------------------------------------------
# activity


def write_activity(db: sqlite_utils.Database, config: Config, sources: Sources | None = None) -> int:
    """`activity`: one row per dated contribution in the family (issue opened, PR opened, comment).

    Everyone's, people and bots alike, flagged with `is_person` and `is_bot` (deleted accounts
    have no user: both 0). `at` is UTC; `local_date`, `week` (the Monday starting the ISO week)
    and `month` (YYYY-MM) are calendar values in the project's time zone (`config.timezone`).
    Commits (the `contributors` table) have no dates, so they are not here; reviews (people.reviewers)
    are counted in `contributors_summary` and `metrics_periodic`. Key: (`kind`, `source_id`): the item's or the comment's id.
    """
    act = _sources(db, config, sources).activity
    return _replace(db, "activity", act, ACTIVITY_COLUMNS, None,
                    # the last: the dashboards' figures count a repo's PRs in a window from the index alone
                    indexes=(["kind", "source_id"], ["user_id", "at"], ["kind", "repo_id", "local_date", "item_id"]))


def _activity(db: sqlite_utils.Database, config: Config, sources: Sources | None) -> tuple[Sources, pd.DataFrame]:
    """The sources and the activity rows; a writer called alone also writes `activity` if missing."""
    if sources is None:
        sources = Sources(db, config)
        if "activity" not in db.table_names():
            write_activity(db, config, sources)
    return sources, sources.activity
