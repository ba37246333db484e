"""`public_value`: an estimate of what the regional sites would have paid to write the code they reused.

Always an estimate, shown with its inputs (docs/metrics.md, "Public value"). The method follows
code.gov's: the cost of the code by COCOMO, times the number of other bodies using it (the one
that built it left out). The cost model is scc's basic COCOMO (organic mode):

    effort (person-months) = 2.4 x KLOC^1.05
    schedule (months)      = 2.5 x effort^0.38
    cost                   = effort x (annual wage / 12) x overhead

Code size is the upstream's, from GitHub's languages endpoint (bytes per language, `repo_languages`),
turned into lines with an average line length per language (BYTES_PER_LINE, below).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from civicbot.config import Config
from civicbot.store.schema import utc_text
from civicbot.store.transaction import drop_table, write_transaction

# Average bytes per line of code, newlines and indentation included. Measured as the usual range
# of source files in Vue/Nuxt projects (30-40 bytes a line); a language not listed takes DEFAULT.
# Blank and comment lines are counted as lines, as scc's COCOMO counts only code lines: so the
# estimate leans high by the share of comments and blank lines (often 15-25%).
BYTES_PER_LINE = {"Vue": 32, "TypeScript": 33, "JavaScript": 33, "CSS": 28, "SCSS": 26, "HTML": 40,
                  "Python": 35, "Shell": 30, "Dockerfile": 35, "Ruby": 30, "Go": 30, "Java": 38}
DEFAULT_BYTES_PER_LINE = 35

# scc's basic COCOMO, organic mode (small teams, familiar problem: a web site).
EFFORT_FACTOR, EFFORT_EXPONENT = 2.4, 1.05
SCHEDULE_FACTOR, SCHEDULE_EXPONENT = 2.5, 0.38

COLUMNS = {
    "as_of": str, "upstream": str, "code_bytes": int, "code_lines": int, "lines_by_language": str,
    "effort_person_months": float, "schedule_months": float, "annual_wage_yen": int, "overhead": float,
    "cost_yen": int, "other_bodies": int, "bodies": str, "estimate_yen": int, "method": str,
}

METHOD = ("Replacement cost (code.gov): basic COCOMO on the upstream's code (scc: effort = 2.4 x KLOC^1.05 "
          "person-months; cost = effort x wage / 12 x overhead) times the other bodies that reused it "
          "(owners of regional-site repos, the upstream's owner left out). An estimate, not a price.")


@dataclass(frozen=True)
class Estimate:
    code_lines: int
    effort_person_months: float
    schedule_months: float
    cost_yen: int
    other_bodies: int
    estimate_yen: int


def lines_of_code(bytes_by_language: dict[str, int]) -> dict[str, int]:
    """Lines per language from bytes, with BYTES_PER_LINE."""
    return {lang: round(size / BYTES_PER_LINE.get(lang, DEFAULT_BYTES_PER_LINE))
            for lang, size in bytes_by_language.items()}


def estimate(code_lines: int, other_bodies: int, annual_wage_yen: int, overhead: float) -> Estimate:
    """The replacement cost of `code_lines` lines, once and times `other_bodies`."""
    kloc = code_lines / 1000
    effort = EFFORT_FACTOR * kloc ** EFFORT_EXPONENT if kloc > 0 else 0.0
    schedule = SCHEDULE_FACTOR * effort ** SCHEDULE_EXPONENT if effort > 0 else 0.0
    cost = round(effort * annual_wage_yen / 12 * overhead)
    return Estimate(code_lines, effort, schedule, cost, other_bodies, cost * other_bodies)


def reusing_bodies(db: sqlite_utils.Database, before: str | None = None) -> list[str]:
    """Owners of regional-site repos (derivatives placed in a prefecture), the upstream's owner left
    out; only repos created before `before` (stored UTC text) when given."""
    if "derivatives" not in db.table_names():
        return []
    upstream = db.execute("SELECT r.full_name FROM discoveries d JOIN repos r ON r.id = d.repo_id "
                          "WHERE d.method = 'upstream'").fetchone()
    up_owner = upstream[0].split("/")[0].lower() if upstream else None
    owners = {row[0].split("/")[0] for row in db.execute(
        "SELECT full_name FROM derivatives WHERE pref_code IS NOT NULL AND full_name IS NOT NULL "
        "AND (? IS NULL OR created_at < ?)", [before, before])}
    return sorted((o for o in owners if o.lower() != up_owner), key=str.lower)


def estimate_at(db: sqlite_utils.Database, before: str) -> dict | None:
    """The stored estimate with its multiplier taken at a moment: the bodies that had reused the
    code by then (the code's cost stays the one measured on the newest code). None when not computed."""
    if "public_value" not in db.table_names():
        return None
    rows = list(db.query("SELECT * FROM public_value"))
    if not rows:
        return None
    bodies = reusing_bodies(db, before)
    return {**rows[0], "other_bodies": len(bodies), "bodies": ", ".join(bodies),
            "estimate_yen": rows[0]["cost_yen"] * len(bodies)}


def write_public_value(db: sqlite_utils.Database, config: Config) -> int:
    """Replace `public_value` with one row: the estimate and every input it used (none without data)."""
    up = db.execute("SELECT r.id, r.full_name FROM discoveries d JOIN repos r ON r.id = d.repo_id "
                    "WHERE d.method = 'upstream'").fetchone()
    rows = []
    if up is not None and "repo_languages" in db.table_names():
        sizes = dict(db.execute("SELECT language, bytes FROM repo_languages WHERE repo_id = ? ORDER BY bytes DESC",
                                [up[0]]).fetchall())
        if sizes:
            lines = lines_of_code(sizes)
            bodies = reusing_bodies(db)
            settings = config.public_value
            result = estimate(sum(lines.values()), len(bodies), settings.annual_wage_yen, settings.overhead)
            rows.append({
                "as_of": utc_text(), "upstream": up[1], "code_bytes": sum(sizes.values()),
                "code_lines": result.code_lines, "lines_by_language": json.dumps(lines, ensure_ascii=False),
                "effort_person_months": round(result.effort_person_months, 1),
                "schedule_months": round(result.schedule_months, 1), "annual_wage_yen": settings.annual_wage_yen,
                "overhead": settings.overhead, "cost_yen": result.cost_yen, "other_bodies": result.other_bodies,
                "bodies": ", ".join(bodies), "estimate_yen": result.estimate_yen, "method": METHOD})
    with write_transaction(db):
        drop_table(db, "public_value")
        db["public_value"].create(COLUMNS)
        if rows:
            db["public_value"].insert_all(rows)
    return len(rows)
