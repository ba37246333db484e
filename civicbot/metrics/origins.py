"""Where contributors are from, and whom they work for: aggregates only (docs/metrics.md).

- `write_contributors_by_place`: table `contributors_by_place`, people per country and, for Japan,
  per prefecture, per period (week, month, and `all` the data), from each person's profile
  location read by `civicbot.regions.place_of` (the one definition of a place).
- `write_contributors_by_affiliation`: table `contributors_by_affiliation`, people, contributions
  and organisations per kind of organisation (government, company, npo, academic, individual,
  unknown) per period, from `affiliations.company_of` with the config's `affiliations` lists.
- `people_places(db)` (each account) and `person_places(db)` (each person, after identities are
  merged): the same reading for any set of people (the impact summary's "from N countries / M
  prefectures"); `fold_places_of` folds a set of people's small places for the summary and the
  report as the table does.

People of a place are the persons who took part in the family in the period: any contribution of
`summary.contributions` (commits and reviews too), as the summary, the report and the dashboards'
people count read it from the `contributions` table; so are the people of an affiliation, each of
a single kind (`person_affiliations`). The family as a whole only (a repo's people per
prefecture would name too few people). A person whose place is unknown, ambiguous or whose
profile was not fetched yet is counted in a row of their own, never spread over places. A
country or prefecture with fewer than `publish.min_place_count` people in a period is counted
with the period's other countries or Japan's other prefectures (`fold_small_places`). No row
names a person; a location is never written here.
"""

from __future__ import annotations

import pandas as pd
import sqlite_utils

from civicbot.config import Config
from civicbot.regions import country_name, place_of, prefecture

from .people import read_persons
from .tables import replace_frame

PLACE_COLUMNS = {
    "period_kind": str, "period_start": str, "period_end": str, "place_status": str, "country_code": str,
    "country_ja": str, "country_en": str, "pref_code": str, "prefecture_ja": str, "prefecture_en": str,
    "people": int,
}
AFFILIATION_COLUMNS = {
    "period_kind": str, "period_start": str, "period_end": str, "kind": str, "kind_ja": str, "people": int,
    "contributions": int, "organisations": int,
}
# (Japanese, English) for the rows that are not a country.
STATUS_WORDS = {"unknown": ("不明", "unknown"), "ambiguous": ("判別できない", "ambiguous"),
                "no_profile": ("プロフィール未取得", "profile not fetched yet"),
                "other": ("その他の国・地域", "other countries and regions")}
NO_PREFECTURE = ("都道府県不明", "prefecture unknown")
OTHER_PREFECTURES = ("その他の都道府県", "other prefectures")
KIND_JA = {"government": "行政", "company": "企業", "npo": "NPO・市民団体", "academic": "大学・研究機関",
           "individual": "個人", "unknown": "不明"}
PERIODS = ("week", "month", "all")


def country_names(code: str) -> tuple[str, str]:
    """A country's (Japanese, English) names for the table's two columns (regions.country_name)."""
    return country_name(code, "ja"), country_name(code, "en")


def people_places(db: sqlite_utils.Database) -> pd.DataFrame:
    """Every account's place: user_id, place_status (known | unknown | ambiguous | no_profile),
    country_code, pref_code. Each distinct location is read once."""
    users = pd.read_sql_query("SELECT id AS user_id, location, profile_fetched_at, profile_status FROM users",
                              db.conn)
    read = {text: place_of(text) for text in users["location"].dropna().unique()}
    unknown = place_of(None)
    places = [read.get(text, unknown) if isinstance(text, str) else unknown for text in users["location"].tolist()]
    # A location comes only from a profile, so one stored counts as fetched (older stores kept no date).
    fetched = (users["profile_fetched_at"].notna() | users["location"].notna()) \
        & (users["profile_status"].fillna("found") == "found")
    status = pd.Series([p.status for p in places], index=users.index).where(fetched, "no_profile")
    return pd.DataFrame({
        "user_id": users["user_id"], "place_status": status,
        "country_code": pd.Series([p.country for p in places], index=users.index, dtype=object).where(fetched),
        "pref_code": pd.Series([p.pref_code for p in places], index=users.index, dtype=object).where(fetched),
    })


def person_places(db: sqlite_utils.Database) -> pd.DataFrame:
    """Every person's place (person_id, place_status, country_code, pref_code). A person with
    several accounts is placed by the first account (lowest id) whose location names a country,
    else takes their first account's status; a commit identity with no account is `unknown`."""
    persons = read_persons(db)
    persons = persons[persons["is_person"].fillna(0).astype(int) == 1]
    accounts = persons.loc[persons["kind"] == "account", ["person_id", "user_id"]].dropna()
    accounts = accounts.astype({"user_id": "int64"}).merge(people_places(db), on="user_id", how="left")
    accounts["placed"] = accounts["country_code"].notna()
    first = accounts.sort_values(["placed", "user_id"], ascending=[False, True]).drop_duplicates("person_id")
    rest = pd.DataFrame({"person_id": sorted(set(persons["person_id"]) - set(first["person_id"]))})
    rest["place_status"] = "unknown"
    out = pd.concat([first[["person_id", "place_status", "country_code", "pref_code"]], rest], ignore_index=True)
    out["place_status"] = out["place_status"].fillna("no_profile")
    return out


def _by_period(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """(*keys, period_kind, period_start, period_end, contributions): the rows (with `local_date`,
    `week_at` and `month_at`) counted per key and per week, month and the whole data (`all`)."""
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "period_kind", "period_start", "period_end", "contributions"])
    frames = []
    for kind in PERIODS:
        if kind == "all":
            grouped = rows.groupby(keys).size().rename("contributions").reset_index()
            grouped["period_start"] = rows["local_date"].min()  # the first day to the last, inclusive
            grouped["period_end"] = (pd.Timestamp(rows["local_date"].max()) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        else:
            grouped = rows.groupby([*keys, f"{kind}_at"]).size().rename("contributions").reset_index()
            starts = grouped[f"{kind}_at"]
            ends = starts + pd.Timedelta(days=7) if kind == "week" else starts + pd.offsets.MonthBegin(1)
            grouped["period_start"] = starts.dt.strftime("%Y-%m-%d")
            grouped["period_end"] = ends.dt.strftime("%Y-%m-%d")
            grouped = grouped.drop(columns=[f"{kind}_at"])
        grouped["period_kind"] = kind
        frames.append(grouped)
    return pd.concat(frames, ignore_index=True)


def fold_small_places(counts: pd.DataFrame, least: int) -> pd.DataFrame:
    """Places with fewer than `least` people in a period counted together, so that no published row
    points at one or two people: a small country's rows become the period's `other` row (no
    country), a small Japanese prefecture's rows Japan's `other` row (JP, no prefecture). Rows that
    name no place (unknown, ambiguous, no profile, Japan without a prefecture) stay as they are.
    Each person has one place, so a country's people are the sum of its rows. Without period
    columns, `counts` is one set of people (`fold_places_of`)."""
    period = [c for c in ("period_kind", "period_start", "period_end") if c in counts.columns]
    keys = [*period, "place_status", "country_code", "pref_code"]
    known = counts["place_status"].to_numpy() == "known"
    country_people = counts.groupby([*period, "country_code"], dropna=False)["people"].transform("sum")
    small_country = known & (country_people < least).to_numpy()
    small_pref = known & ~small_country & (counts["country_code"] == "JP").to_numpy() \
        & counts["pref_code"].notna().to_numpy() & (counts["people"] < least).to_numpy()
    if not (small_country.any() or small_pref.any()):
        return counts
    out = counts.copy()
    out.loc[small_country | small_pref, "place_status"] = "other"
    out.loc[small_country, "country_code"] = None
    out.loc[small_country | small_pref, "pref_code"] = None
    return out.groupby(keys, dropna=False)["people"].sum().reset_index()


def fold_places_of(places: pd.DataFrame, least: int) -> pd.DataFrame:
    """People per place (place_status, country_code, pref_code, people) of one set of persons
    (rows of `person_places`), small places folded as in `contributors_by_place`: what the impact
    summary and the report show of a window's people."""
    keys = ["place_status", "country_code", "pref_code"]
    counts = places.groupby(keys, dropna=False).size().rename("people").reset_index()
    return fold_small_places(counts, least)


def write_contributors_by_place(db: sqlite_utils.Database, config: Config, sources) -> int:
    """`contributors_by_place`: people per (period, place); see the module's docstring."""
    # the people who took part as the summary, the report and the dashboards count them (commits and reviews too)
    active = _by_period(sources.took_part, ["person_id"]).merge(person_places(db), on="person_id", how="left")
    active["place_status"] = active["place_status"].fillna("no_profile")
    keys = ["period_kind", "period_start", "period_end", "place_status", "country_code", "pref_code"]
    out = active.groupby(keys, dropna=False)["person_id"].nunique().rename("people").reset_index()
    out = fold_small_places(out, config.publish.min_place_count)
    names = [(country_names(c) if isinstance(c, str) else STATUS_WORDS[s])
             for c, s in zip(out["country_code"], out["place_status"])]
    out["country_ja"] = [n[0] for n in names]
    out["country_en"] = [n[1] for n in names]
    prefs = [(prefecture(p).name_ja, prefecture(p).name_en) if isinstance(p, str)
             else (OTHER_PREFECTURES if s == "other" else NO_PREFECTURE) if c == "JP" else (None, None)
             for p, c, s in zip(out["pref_code"], out["country_code"], out["place_status"])]
    out["prefecture_ja"] = [p[0] for p in prefs]
    out["prefecture_en"] = [p[1] for p in prefs]
    out = out.sort_values(["period_kind", "period_start", "people", "country_code", "pref_code"],
                          ascending=[True, True, False, True, True], na_position="last", ignore_index=True)
    return replace_frame(db, "contributors_by_place", out, PLACE_COLUMNS, None,
                         indexes=(["period_kind", "period_start"],))


def person_affiliations(users: pd.DataFrame) -> pd.DataFrame:
    """Every person's organisation and kind (person_id, org, org_kind) from their accounts' companies
    (`Sources.users`): the first account (lowest id) whose company names a kind, else the first
    account's. A commit identity with no account is not here: its kind is `unknown`."""
    accounts = users[["user_id", "person_id", "org", "org_kind"]].assign(
        named=users["org_kind"].fillna("unknown").to_numpy() != "unknown")
    first = accounts.sort_values(["named", "user_id"], ascending=[False, True]).drop_duplicates("person_id")
    return first[["person_id", "org", "org_kind"]].reset_index(drop=True)


def write_contributors_by_affiliation(db: sqlite_utils.Database, config: Config, sources) -> int:
    """`contributors_by_affiliation`: people, contributions and organisations per (period, kind), of
    the people who took part (commits and reviews too), as `contributors_by_place` counts them."""
    active = _by_period(sources.took_part, ["person_id"]).merge(person_affiliations(sources.users),
                                                                 on="person_id", how="left")
    active["org_kind"] = active["org_kind"].fillna("unknown")
    keys = ["period_kind", "period_start", "period_end", "org_kind"]
    out = active.groupby(keys).agg(people=("person_id", "nunique"), contributions=("contributions", "sum"),
                                   organisations=("org", "nunique")).reset_index().rename(columns={"org_kind": "kind"})
    out["kind_ja"] = out["kind"].map(KIND_JA)
    out = out.sort_values(["period_kind", "period_start", "kind"], ignore_index=True)
    return replace_frame(db, "contributors_by_affiliation", out, AFFILIATION_COLUMNS, None,
                         indexes=(["period_kind", "period_start"],))


def write_origins(db: sqlite_utils.Database, config: Config, sources) -> dict[str, int]:
    """Both tables, from the contribution metrics' shared `Sources`."""
    return {"contributors_by_place": write_contributors_by_place(db, config, sources),
            "contributors_by_affiliation": write_contributors_by_affiliation(db, config, sources)}
