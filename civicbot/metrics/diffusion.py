"""Diffusion metrics: how far the open-source upstream travelled (docs/diffusion.md).

Each table is written by one function, reading only the store (and the config for regions and
the time zone), replacing the table in one transaction: running them twice gives the same rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import sqlite_utils

from civicbot.config import Config
from civicbot.regions import CITIES, PREFECTURES, match_region, prefecture
from civicbot.store.transaction import drop_table, write_transaction

from .people import read_accounts

ACTIVE_DAYS = 90

DERIVATIVE_COLUMNS = {
    "repo_id": int, "full_name": str, "found_by": str, "parent_id": int, "parent_full_name": str, "evidence": str,
    "pref_code": str, "prefecture_ja": str, "prefecture_en": str, "muni_code": str, "municipality_ja": str,
    "municipality_en": str, "latitude": float, "longitude": float, "region_source": str, "region_evidence": str,
    "operator_city_code": str, "operator_city": str,
    "created_at": str, "first_own_activity": str, "last_push": str, "last_activity": str, "active_90d": int,
    "deployed": int, "homepage": str, "archived": int, "status": str, "own_contributors": int,
    "own_merged_prs": int, "upstream_prs_sent": int, "ahead_by": int, "behind_by": int,
    "first_divergence_sha": str, "first_divergence_date": str, "last_sync_sha": str, "last_sync_date": str,
}


def _replace(db: sqlite_utils.Database, table: str, rows: list[dict], columns: dict, pk: str | tuple) -> int:
    """Replace a metrics table with `rows` in one transaction (created even when empty)."""
    with write_transaction(db):
        drop_table(db, table)
        db[table].create(columns, pk=pk)
        db[table].insert_all(rows)
    return len(rows)


def upstream_id(db: sqlite_utils.Database) -> int | None:
    row = db.execute("SELECT repo_id FROM discoveries WHERE method = 'upstream' LIMIT 1").fetchone()
    return row[0] if row else None


def _region(config: Config, repo: dict, use_config: bool, upstream: dict | None = None,
            site_listing: dict | None = None) -> dict:
    """Region of a derivative: the area it serves, and separately the city of its operator.

    The area comes from the config's listing, else the upstream's site list (its region text),
    else the matcher over the site's own name, homepage and description, else unknown (never
    guessed). The owner's name says who runs a site, not what it covers (Code for Sapporo runs
    a Hokkaido-wide site): a city found there is the `operator_city`, and it gives the area only
    when nothing else names a place. A description or homepage left as the upstream's describes
    the upstream, not the derivative (most personal forks keep Tokyo's): the matcher skips them.
    """
    listed = {d.repo.lower(): d for d in config.discovery.listed} if use_config else {}
    entry = listed.get(repo["full_name"].lower())
    operator = match_region(repo["owner"], "")
    pref_code, muni_code, source, evidence = None, None, "unknown", None
    if entry is not None and entry.pref_code:
        pref_code, muni_code, source, evidence = entry.pref_code, entry.muni_code, "config", "listed in config"
    elif site_listing and site_listing.get("pref_code"):
        pref_code, muni_code, source = site_listing["pref_code"], site_listing.get("muni_code"), "site_list"
        evidence = f"listed in the upstream's site list as {site_listing.get('region')!r}"
    else:
        inherited = upstream or {}
        description = repo.get("description") if repo.get("description") != inherited.get("description") else None
        homepage = repo.get("homepage") if repo.get("homepage") != inherited.get("homepage") else None
        match = match_region("", repo["name"], description, homepage) or operator
        if match is not None:
            pref_code, muni_code, source, evidence = match.pref_code, match.municipality_code, "matcher", match.evidence
            if match is operator:
                evidence += " (only the operator's name names a place)"
    pref = prefecture(pref_code) if pref_code else None
    city = _city(muni_code)
    operator_city = _city(operator.municipality_code) if operator else None
    place = city or pref
    return {
        "pref_code": pref_code, "prefecture_ja": pref.name_ja if pref else None,
        "prefecture_en": pref.name_en if pref else None, "muni_code": muni_code,
        "municipality_ja": city.name_ja if city else (entry.municipality if entry is not None and muni_code else None),
        "municipality_en": city.name_en if city else None,
        "latitude": place.lat if place else None, "longitude": place.lon if place else None,
        "region_source": source, "region_evidence": evidence,
        "operator_city_code": operator_city.muni_code if operator_city else None,
        "operator_city": operator_city.name_ja if operator_city else None,
    }


def _city(muni_code: str | None):
    return next((c for c in CITIES if c.muni_code == muni_code), None) if muni_code else None


def write_derivatives(db: sqlite_utils.Database, config: Config, *, as_of: datetime | None = None,
                      use_config_regions: bool = True) -> int:
    """`derivatives`: one row per repo of the family other than the upstream.

    Definitions (docs/diffusion.md): found_by lists how it was found; first_own_activity is the
    earliest of its own issues/PRs/comments and its first push after creation; active_90d means
    its last activity (push, item or comment) is within 90 days before `as_of` (default: now);
    deployed means a homepage is set; own_contributors counts people (bots excluded) with an
    issue, PR or comment there, or commits there that are not also upstream commit authors;
    upstream_prs_sent counts upstream PRs from its repo or by its owner or members (people who
    merged PRs in it): CHAOSS "contributing fork".
    """
    up = upstream_id(db)
    as_of = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    cutoff = (as_of - timedelta(days=ACTIVE_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = []
    found = db.execute("""SELECT d.repo_id, group_concat(d.method, ',') AS methods, max(d.parent_id) AS parent_id,
                          group_concat(d.evidence, '; ') AS evidence FROM
                          (SELECT * FROM discoveries ORDER BY method) d WHERE d.method != 'upstream'
                          GROUP BY d.repo_id ORDER BY d.repo_id""").fetchall()
    sent_by = _upstream_prs_sent(db, up, [row[0] for row in found])
    upstream_repo = db["repos"].get(up) if up else None
    listings = _listings(db)
    for repo_id, methods, parent_id, evidence in found:
        repo = db["repos"].get(repo_id)
        if repo_id == up:
            continue
        stats = db.execute(
            """SELECT (SELECT min(created_at) FROM items WHERE repo_id = :r),
                      (SELECT min(created_at) FROM comments WHERE repo_id = :r),
                      (SELECT max(updated_at) FROM items WHERE repo_id = :r),
                      (SELECT max(created_at) FROM comments WHERE repo_id = :r),
                      (SELECT count(*) FROM items WHERE repo_id = :r AND merged_at IS NOT NULL)""",
            {"r": repo_id}).fetchone()
        own_people = db.execute(
            """SELECT count(DISTINCT a.person_id) FROM persons a WHERE a.is_person = 1 AND a.user_id IN (
                   SELECT user_id FROM items WHERE repo_id = :r UNION SELECT user_id FROM comments WHERE repo_id = :r
                   UNION SELECT user_id FROM contributors WHERE repo_id = :r
                       AND user_id NOT IN (SELECT user_id FROM contributors WHERE repo_id = :up))""",
            {"r": repo_id, "up": up}).fetchone()[0]
        sent = sent_by.get(repo_id, 0)
        compare = db.execute("SELECT ahead_by, behind_by, merge_base_sha, merge_base_date, first_divergence_sha, "
                             "first_divergence_date FROM repo_compare WHERE repo_id = ?", [repo_id]).fetchone() \
            or (None,) * 6
        pushed_own = repo["pushed_at"] if repo["pushed_at"] and repo["created_at"] and repo["pushed_at"] > repo["created_at"] else None
        first_own = min(filter(None, [stats[0], stats[1], pushed_own]), default=None)
        last_activity = max(filter(None, [repo["pushed_at"], stats[2], stats[3]]), default=None)
        parent = db["repos"].get(parent_id)["full_name"] if parent_id and db["repos"].count_where("id = ?", [parent_id]) else None
        rows.append({
            "repo_id": repo_id, "full_name": repo["full_name"], "found_by": methods, "parent_id": parent_id,
            "parent_full_name": parent, "evidence": evidence,
            **_region(config, repo, use_config_regions, upstream_repo, listings.get(repo["full_name"].lower())),
            "created_at": repo["created_at"], "first_own_activity": first_own, "last_push": repo["pushed_at"],
            "last_activity": last_activity, "active_90d": int(bool(last_activity and last_activity >= cutoff)),
            "deployed": int(bool(repo["homepage"])), "homepage": repo["homepage"], "archived": repo["archived"],
            "status": repo["status"], "own_contributors": own_people, "own_merged_prs": stats[4],
            "upstream_prs_sent": sent, "ahead_by": compare[0], "behind_by": compare[1],
            "first_divergence_sha": compare[4], "first_divergence_date": compare[5],
            "last_sync_sha": compare[2], "last_sync_date": compare[3],
        })
    return _replace(db, "derivatives", rows, DERIVATIVE_COLUMNS, "repo_id")


def _listings(db: sqlite_utils.Database) -> dict[str, dict]:
    """The upstream's site-list entry of each listed repo (lower-cased full name -> row)."""
    if "listed_sites" not in db.table_names():
        return {}
    return {row["repo_full_name"].lower(): row for row in db.query(
        "SELECT * FROM listed_sites WHERE repo_full_name IS NOT NULL ORDER BY rowid DESC")}


def _upstream_prs_sent(db: sqlite_utils.Database, up: int | None, repo_ids: list[int]) -> dict[int, int]:
    """Upstream PRs per derivative: from its repo (head), or by its owner or members (people who
    merged PRs in it). Read once and indexed: a query per derivative would rescan the upstream."""
    if up is None:
        return {}
    by_head: dict[int, set[int]] = {}
    by_user: dict[int, set[int]] = {}
    for pr_id, head, user in db.execute(
            "SELECT id, head_repo_id, user_id FROM items WHERE repo_id = ? AND is_pull_request = 1", [up]):
        if head is not None:
            by_head.setdefault(head, set()).add(pr_id)
        if user is not None:
            by_user.setdefault(user, set()).add(pr_id)
    members: dict[int, set[int]] = {}
    for repo_id, user in db.execute("SELECT DISTINCT repo_id, merged_by_id FROM items WHERE merged_by_id IS NOT NULL"):
        members.setdefault(repo_id, set()).add(user)
    owners = dict(db.execute("SELECT id, owner_id FROM repos").fetchall())
    out = {}
    for repo_id in repo_ids:
        prs = set(by_head.get(repo_id, ()))
        for user in {owners.get(repo_id), *members.get(repo_id, ())} - {None}:
            prs |= by_user.get(user, set())
        out[repo_id] = len(prs)
    return out


def _local_date(value: str, zone) -> str:
    return pd.Timestamp(value).tz_convert(zone).strftime("%Y-%m-%d")


def write_diffusion_daily(db: sqlite_utils.Database, config: Config) -> int:
    """`diffusion_daily`: per calendar day (project time zone) from the upstream's creation to the
    newest derivative's: derivatives and prefectures new that day and reached so far."""
    columns = {"date": str, "new_derivatives": int, "derivatives": int, "new_prefectures": int, "prefectures": int}
    up = upstream_id(db)
    if up is None or "derivatives" not in db.table_names():
        return _replace(db, "diffusion_daily", [], columns, "date")
    zone = config.zone
    start = _local_date(db["repos"].get(up)["created_at"], zone)
    frame = pd.DataFrame(list(db.query("SELECT created_at, pref_code FROM derivatives WHERE created_at IS NOT NULL")))
    if frame.empty:
        return _replace(db, "diffusion_daily", [{"date": start, "new_derivatives": 0, "derivatives": 0,
                                                 "new_prefectures": 0, "prefectures": 0}], columns, "date")
    frame["date"] = frame["created_at"].map(lambda v: _local_date(v, zone))
    end = max(frame["date"].max(), start)
    days = pd.date_range(start, end, freq="D").strftime("%Y-%m-%d")
    new = frame.groupby("date").size().reindex(days, fill_value=0)
    firsts = frame.dropna(subset=["pref_code"]).groupby("pref_code")["date"].min()
    new_prefs = firsts.value_counts().reindex(days, fill_value=0)
    before = int((frame["date"] < start).sum())  # derivatives older than the upstream record (clock skew)
    rows = [{"date": day, "new_derivatives": int(new[day]), "derivatives": int(new.loc[:day].sum()) + before,
             "new_prefectures": int(new_prefs[day]), "prefectures": int(new_prefs.loc[:day].sum())}
            for day in days]
    return _replace(db, "diffusion_daily", rows, columns, "date")


def write_diffusion_by_prefecture(db: sqlite_utils.Database) -> int:
    """`diffusion_by_prefecture`: always 47 rows, one per prefecture, zero where none was reached."""
    columns = {"pref_code": str, "prefecture_ja": str, "prefecture_en": str, "latitude": float, "longitude": float,
               "derivatives": int, "active_derivatives": int, "first_created_at": str, "repos": str,
               "listed_sites": int, "regional_sites": int, "sites": str}
    have = "derivatives" in db.table_names()
    # Sites the upstream lists without a GitHub repo are regional sites too (a prefecture's own
    # page, a closed-source rebuild): counted with their listed region, apart from repos.
    listed = "listed_sites" in db.table_names()
    rows = []
    for pref in PREFECTURES:
        stats = db.execute("""SELECT count(*), sum(active_90d), min(created_at), group_concat(full_name, ', ')
                              FROM (SELECT * FROM derivatives WHERE pref_code = ? ORDER BY created_at)""",
                           [pref.code]).fetchone() if have else (0, 0, None, None)
        sites = db.execute("""SELECT count(*), group_concat(site_url, ', ') FROM (SELECT site_url FROM listed_sites
                              WHERE pref_code = ? AND repo_full_name IS NULL ORDER BY site_url)""",
                           [pref.code]).fetchone() if listed else (0, None)
        rows.append({"pref_code": pref.code, "prefecture_ja": pref.name_ja, "prefecture_en": pref.name_en,
                     "latitude": pref.lat, "longitude": pref.lon, "derivatives": stats[0],
                     "active_derivatives": stats[1] or 0, "first_created_at": stats[2], "repos": stats[3],
                     "listed_sites": sites[0], "regional_sites": stats[0] + sites[0], "sites": sites[1]})
    return _replace(db, "diffusion_by_prefecture", rows, columns, "pref_code")


def write_cross_site_people(db: sqlite_utils.Database) -> int:
    """`cross_site_people`: people (bots excluded) with issues, PRs or comments in more than one
    repo of the family: the flow of people between sites. One row per person (`persons`): a person
    with two accounts is one row, under the first account, with every login."""
    columns = {"user_id": int, "login": str, "sites": int, "repos": str, "person_id": str}
    rows = [dict(r) for r in db.query(
        """SELECT min(u.id) AS user_id, group_concat(DISTINCT u.login) AS login, count(DISTINCT a.repo_id) AS sites,
                  group_concat(DISTINCT r.full_name) AS repos, p.person_id
           FROM (SELECT user_id, repo_id FROM items UNION SELECT user_id, repo_id FROM comments) a
           JOIN users u ON u.id = a.user_id JOIN persons p ON p.user_id = u.id JOIN repos r ON r.id = a.repo_id
           JOIN discoveries d ON d.repo_id = a.repo_id
           WHERE p.is_person = 1 GROUP BY p.person_id HAVING count(DISTINCT a.repo_id) > 1
           ORDER BY sites DESC, login""")]
    return _replace(db, "cross_site_people", rows, columns, "user_id")


def write_diffusion(db: sqlite_utils.Database, config: Config, **options) -> dict[str, int]:
    """All diffusion tables, in dependency order; returns rows written per table. People are
    `accounts.is_person` (civicbot.metrics.people; written first if the store has none yet)."""
    read_accounts(db, config)
    return {
        "derivatives": write_derivatives(db, config, **options),
        "diffusion_daily": write_diffusion_daily(db, config),
        "diffusion_by_prefecture": write_diffusion_by_prefecture(db),
        "cross_site_people": write_cross_site_people(db),
    }
