"""One definition of a person, of automation and of a proposal (civicbot.metrics.people), obeyed by
every table and figure: a world with each trap of issue 16, checked table by table."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from conftest import ROOT
from harvest_helpers import family_config
from worlds import TOKEN, tiny_world

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics import write_all_metrics
from civicbot.metrics.people import account_frame, automation_accounts
from civicbot.metrics.summary import Window, format_summary, impact_summary
from civicbot.store import open_store

PLACEHOLDER = "tokyo-maintainer-placeholder"
PERSONS = {"maintainer", "newcomer", "hokkaido-dev", "nightly-hamster"}
NOT_PEOPLE = {"Tokyo-Metro-Gov", "codeforsapporo", "github-actions[bot]", PLACEHOLDER, "ghost",
              "covid19-data-updater", "kenji-sync", "civicbot-demo", "copycat", "gone"}


def trap_world() -> dict:
    """tiny_world plus: a data-update User account, an account whose PRs come from automation
    branches, one that opens PRs like a clock (overruled by config), an organisation and a
    placeholder and GitHub's ghost active in a derivative, a release merge, a person's PR from an
    automation branch and one with an automation title."""
    world = tiny_world()
    world["users"] += [{"id": 20, "login": "covid19-data-updater", "type": "User"},
                       {"id": 21, "login": "kenji-sync", "type": "User"},
                       {"id": 22, "login": "nightly-hamster", "type": "User"},
                       {"id": 23, "login": PLACEHOLDER, "type": "User"},
                       {"id": 24, "login": "ghost", "type": "User"}]
    number = iter(range(10, 100))
    ids = iter(range(1200, 1300))

    def pr(user, head_ref, created, *, repo=10, head_repo=10, base="development", title="Update", merged=True):
        world["issues"].append({
            "id": next(ids), "repo_id": repo, "number": next(number), "title": title, "body": None, "user": user,
            "state": "closed" if merged else "open", "created_at": created, "updated_at": created,
            **({"closed_at": created, "closed_by": "maintainer"} if merged else {}),
            "pull_request": {"head_repo_id": head_repo, "head_ref": head_ref, "base_ref": base,
                             **({"merged_at": created, "merged_by": "maintainer"} if merged else {})}})

    for day in range(10, 22):
        pr("covid19-data-updater", f"data-update/2020-03-{day}", f"2020-03-{day}T0{day % 10}:{day}:00Z")
        pr("kenji-sync", f"update-data/{day}", f"2020-03-{day}T1{day % 10}:{day + 20}:00Z")
        pr("nightly-hamster", f"feature/{day}", f"2020-03-{day}T0{day % 7}:17:00Z")
    pr("maintainer", "development", "2020-03-22T03:00:00Z", base="master", title="Release 03-22")
    pr("newcomer", "create-pull-request/patch", "2020-03-22T04:00:00Z", head_repo=11, title="Update data")
    pr("maintainer", "i18n", "2020-03-22T05:00:00Z", title="[bot] New translations")
    world["issues"] += [
        {"id": 1301, "repo_id": 11, "number": 2, "title": "組織から", "body": None, "user": "codeforsapporo",
         "state": "open", "created_at": "2020-03-06T00:00:00Z", "updated_at": "2020-03-06T00:00:00Z"},
        {"id": 1302, "repo_id": 11, "number": 3, "title": "誰か", "body": None, "user": PLACEHOLDER,
         "state": "open", "created_at": "2020-03-07T00:00:00Z", "updated_at": "2020-03-07T00:00:00Z"},
        {"id": 1303, "repo_id": 11, "number": 4, "title": "消えた人", "body": None, "user": "ghost",
         "state": "open", "created_at": "2020-03-08T00:00:00Z", "updated_at": "2020-03-08T00:00:00Z"},
        {"id": 1304, "repo_id": 10, "number": 5, "title": "Org issue", "body": None, "user": "Tokyo-Metro-Gov",
         "state": "open", "created_at": "2020-03-08T00:00:00Z", "updated_at": "2020-03-08T00:00:00Z"},
    ]
    world["comments"] += [
        {"id": 2101, "repo_id": 11, "issue_number": 1, "user": PLACEHOLDER, "body": "やります",
         "created_at": "2020-03-06T01:00:00Z", "updated_at": "2020-03-06T01:00:00Z"},
        {"id": 2102, "repo_id": 10, "issue_number": 5, "user": "covid19-data-updater", "body": "auto",
         "created_at": "2020-03-09T01:00:00Z", "updated_at": "2020-03-09T01:00:00Z"},
    ]
    return world


@pytest.fixture(scope="module")
def trap_store(tmp_path_factory):
    from civicbot.sandbox import SandboxServer, World

    world = trap_world()
    tmp = tmp_path_factory.mktemp("people")
    with SandboxServer(World(world)) as sim:
        base = family_config(world, sim.url, tmp / "people.db").model_dump(mode="json")
        base["bots"] = {"logins": ["github-actions[bot]"], "not_bots": ["nightly-hamster"]}  # no updater listed
        base["placeholders"] = [PLACEHOLDER]
        config = type(family_config(world, sim.url, tmp / "x.db")).model_validate(base)
        db = open_store(config.database.path)
        assert harvest(config, db, GitHubClient(config, [TOKEN])).outcome == "complete"
    write_all_metrics(db, config)
    return config, db


def logins(db, sql: str) -> set[str]:
    return {row[0] for row in db.execute(sql)}


def test_accounts_say_who_is_a_person_and_why_not(trap_store):
    config, db = trap_store
    kinds = {r["login"]: (r["kind"], r["reason"]) for r in db.query("SELECT login, kind, reason FROM accounts")}
    assert {login for login, (kind, _) in kinds.items() if kind == "person"} >= PERSONS
    assert kinds["covid19-data-updater"] == ("automation", "name matches updater")
    assert kinds["kenji-sync"] == ("automation", "12 of 12 PRs from automation branches")
    assert kinds["nightly-hamster"][0] == "person"  # regular as a clock, but bots.not_bots overrules
    assert kinds["Tokyo-Metro-Gov"][0] == kinds["codeforsapporo"][0] == "organisation"
    assert kinds[PLACEHOLDER][0] == kinds["ghost"][0] == "placeholder"
    assert kinds["github-actions[bot]"] == ("automation", "GitHub type Bot")


def test_regularity_is_detected_when_not_overruled(trap_store):
    config, db = trap_store
    plain = config.model_copy(update={"bots": config.bots.model_copy(update={"not_bots": []})})
    frame = account_frame(db, plain).set_index("login")
    assert frame.loc["nightly-hamster", "reason"] == "12 of 12 PRs opened at :17 past the hour"
    off = plain.bots.model_copy(update={"detect": plain.bots.detect.model_copy(update={"enabled": False})})
    frame = account_frame(db, plain.model_copy(update={"bots": off})).set_index("login")
    assert frame.loc["covid19-data-updater", "kind"] == "person"  # without detection: counted as a person


def test_pr_kinds_separate_proposals_release_merges_and_automation(trap_store):
    config, db = trap_store
    kinds = {r["title"] + "|" + r["login"]: (r["pr_kind"], r["reason"]) for r in db.query(
        """SELECT i.title, u.login, k.pr_kind, k.reason FROM pr_kinds k JOIN items i ON i.id = k.item_id
           JOIN users u ON u.id = i.user_id""")}
    assert kinds["Release 03-22|maintainer"] == ("release", "merge of long-lived branch development inside the repo")
    assert kinds["Update data|newcomer"] == ("automation", "automation branch create-pull-request/patch")
    assert kinds["[bot] New translations|maintainer"][0] == "automation"
    assert kinds["Fix graph colours|newcomer"] == ("proposal", None)
    assert kinds["Update|nightly-hamster"][0] == "proposal"


def test_no_table_counts_an_account_that_is_not_a_person(trap_store):
    config, db = trap_store
    not_people = logins(db, "SELECT user_id FROM accounts WHERE is_person = 0")
    assert logins(db, "SELECT login FROM accounts WHERE is_person = 0") >= NOT_PEOPLE - {"copycat", "gone"} - \
        {"civicbot-demo"}
    # activity flags, contributors_summary rows
    assert not logins(db, "SELECT user_id FROM activity WHERE is_person = 1") & not_people
    assert logins(db, "SELECT login FROM contributors_summary") == PERSONS
    # metrics_periodic: contributors of March = the persons who took part in March (`contributions`): the
    # people active in March and copycat, whose commit (a copy made without forking) is a contribution
    march = db.execute("SELECT contributors FROM metrics_periodic WHERE scope = 'family' AND period_kind = 'month' "
                       "AND period_start = '2020-03-01'").fetchone()[0]
    took_part = db.execute("SELECT count(DISTINCT person_id) FROM contributions WHERE is_person = 1 "
                           "AND local_date >= '2020-03-01' AND local_date < '2020-04-01'").fetchone()[0]
    assert march == took_part == len(PERSONS | {"copycat"})
    # derivatives: codeforsapporo's site has its organisation, a placeholder and ghost active, one person
    own = db.execute("SELECT own_contributors FROM derivatives WHERE full_name = 'codeforsapporo/covid19hokkaido'")
    assert own.fetchone()[0] == 1
    assert not logins(db, "SELECT user_id FROM cross_site_people") & not_people
    # the maintainers' canned queries
    queries = yaml.safe_load((ROOT / "dashboards" / "queries.yml").read_text(encoding="utf-8"))["queries"]
    names = {r[0] for r in db.execute("SELECT login FROM accounts WHERE is_person = 0")}
    # a response or welcome may come from a placeholder (an unrecorded maintainer), never from automation
    machines = {r[0] for r in db.execute("SELECT login FROM accounts WHERE is_automation = 1")}
    for name, query in queries.items():
        if not all(t in db.table_names() for t in query.get("requires", [])):
            continue
        params = {p: "" for p in query.get("params", [])} | {"as_of": "2020-04-01T00:00:00Z", "month": "2020-03"}
        cursor = db.execute(query["sql"], {k: v for k, v in params.items() if f":{k}" in query["sql"]})
        columns = [c[0] for c in cursor.description]
        for row in cursor.fetchall():
            for column in ("author", "claimed_by", "newcomer", "login"):
                if column in columns:
                    assert row[columns.index(column)] not in names, (name, column, row)
            if "welcomed_by" in columns:
                assert row[columns.index("welcomed_by")] not in machines


def test_summary_counts_people_and_proposals_and_names_the_excluded(trap_store):
    config, db = trap_store
    result = impact_summary(db, config, Window(date(2020, 3, 1), date(2020, 3, 31)))
    figures = result["figures"]
    # every kind of contribution counts: copycat only committed (to its copy, a derivative) in March
    assert figures["contributors"]["without_bots"] == len(PERSONS | {"copycat"})
    assert figures["commit_authors"]["without_bots"] == len({"maintainer", "newcomer", "hokkaido-dev", "copycat"})
    # PRs opened in March: 1 + 36 + 3 (tiny world's two, minus the bot's) -> proposals: the person's
    # and nightly-hamster's 12; release merge and automation counted apart
    assert figures["release_merges"]["all"] == 1
    assert figures["automation_prs"]["all"] == 1 + 12 + 12 + 2  # bot, updater, kenji, branch + title
    assert figures["proposals"]["without_bots"] == 1 + 12
    assert figures["accepted"]["without_bots"] == 1 + 12
    text = format_summary(result)
    assert "treated as automation: covid19-data-updater, name matches updater" in text
    assert "treated as automation: kenji-sync, 12 of 12 PRs from automation branches" in text
    assert "not a person (organisation): codeforsapporo" in text


def test_doctor_lists_detected_automation(trap_store):
    config, db = trap_store
    detected = {r["login"]: r["reason"] for r in automation_accounts(db, detected_only=True)}
    assert detected == {"covid19-data-updater": "name matches updater",
                        "kenji-sync": "12 of 12 PRs from automation branches"}
    from civicbot.doctor import _automation

    check = _automation(config)
    assert check.ok and "covid19-data-updater (name matches updater)" in check.detail
    assert "bots.logins" in check.detail and "bots.not_bots" in check.detail


def test_dashboards_count_accepted_proposals_without_release_merges(trap_store):
    config, db = trap_store
    march = dict(zip(("proposals", "accepted", "releases", "merged"), db.execute(
        """SELECT proposals, accepted_proposals, release_merges, prs_merged FROM metrics_periodic
           WHERE scope = 'family' AND period_kind = 'month' AND period_start = '2020-03-01'""").fetchone()))
    # merged in March: the tiny world's PR, nightly-hamster's 12, the release merge; automation left out
    assert march == {"proposals": 13, "accepted": 13, "releases": 1, "merged": 14}
    # as datasette-dashboards runs them with no filter set: the optional [[ ... ]] parts left out
    from datasette_dashboards import replace_opts_in_query

    from civicbot.publish.metadata import load_dashboards

    impact = load_dashboards(database="test", config=config)["impact"]
    params = {key: "" for key in impact["filters"]}

    def unfiltered(chart: str):
        return db.execute(replace_opts_in_query(impact["charts"][chart]["query"], {}), params)

    assert unfiltered("merged").fetchone()[0] == 13
    weekly = {}
    for week, kind, n in unfiltered("per-week"):
        weekly[kind] = weekly.get(kind, 0) + n
    assert weekly == {"提案 / proposals": 13, "採用 / accepted": 13, "リリース・同期マージ / release merges": 1}


def test_the_demo_data_updater_is_automation_without_being_listed(tmp_path):
    """config/demo.yml does not list covid19-data-updater (type User): detection finds it, by its
    name and, with name patterns off, by its data-update branches; the demo has release merges."""
    from civicbot.config import load_config
    from civicbot.metrics.people import write_classification
    from civicbot.sandbox import SandboxServer, World
    from civicbot.sandbox.generate import DATA_UPDATER, DEMO_TOKEN, generate_world_dict

    demo = load_config(ROOT / "config" / "demo.yml")
    assert DATA_UPDATER not in [login.lower() for login in demo.bots.logins]
    world = generate_world_dict(seed=1, scale=0.05)
    with SandboxServer(World(world)) as sim:
        data = demo.model_dump(mode="json")
        data["github"]["base_url"] = sim.url
        data["discovery"] = {"forks": {"enabled": False}, "shared_root": {"enabled": False}}
        data["database"]["path"] = str(tmp_path / "demo.db")
        config = type(demo).model_validate(data)
        db = open_store(config.database.path)
        assert harvest(config, db, GitHubClient(config, [DEMO_TOKEN])).outcome == "complete"
    write_classification(db, config)
    row = db.execute("SELECT kind, reason, prs FROM accounts WHERE login = ?", [DATA_UPDATER]).fetchone()
    assert row[:2] == ("automation", "name matches updater") and row[2] >= 10
    no_names = config.bots.model_copy(update={"detect": config.bots.detect.model_copy(update={"name_patterns": []})})
    frame = account_frame(db, config.model_copy(update={"bots": no_names})).set_index("login")
    assert frame.loc[DATA_UPDATER, "reason"].endswith("PRs from automation branches")
    kinds = dict(db.execute("SELECT pr_kind, count(*) FROM pr_kinds GROUP BY pr_kind").fetchall())
    assert kinds["release"] > 0 and kinds["automation"] > 0 and kinds["proposal"] > kinds["release"]


def test_triage_treats_detected_automation_as_automation(trap_store):
    from civicbot.triage.features import History

    config, db = trap_store
    history = History.load(db, config)
    ids = dict(db.execute("SELECT login, id FROM users").fetchall())
    assert not history.is_person(ids["covid19-data-updater"]) and not history.is_person(ids["kenji-sync"])
    assert history.is_person(ids["maintainer"]) and history.is_person(ids["nightly-hamster"])
