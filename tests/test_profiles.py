"""People's profiles (civicbot/harvest/profiles.py): fetched once, refreshed after N days for free."""

from __future__ import annotations

import requests
from harvest_helpers import family_config
from worlds import TOKEN, tiny_world

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.profiles import profiles_due
from civicbot.harvest.run import harvest
from civicbot.store import open_store


def people(world: dict) -> set[str]:
    """The accounts whose profile a harvest asks for: every non-bot, non-organisation account."""
    return {u["login"] for u in world["users"] if u["type"] == "User"}


def run(world, sim, tmp_path, **settings):
    config = family_config(world, sim.url, tmp_path / "p.db", profiles=True)
    config = config.model_copy(update={"harvest": config.harvest.model_copy(update=settings)})
    db = open_store(config.database.path)
    client = GitHubClient(config, [TOKEN], sleep=lambda s: None)
    return harvest(config, db, client), db


def profile_requests(sim) -> list[dict]:
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    requests.delete(f"{sim.url}/_sim/requests")
    return [r for r in log if r["path"].startswith("/users/") and r["path"].count("/") == 2]


def known_people(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT login FROM users WHERE is_bot = 0 AND type = 'User'")}


def age_profiles(db, days: int) -> None:
    """As if every profile had been fetched `days` ago (no test waits for the clock)."""
    with db.conn:
        db.execute("UPDATE users SET profile_fetched_at = strftime('%Y-%m-%dT%H:%M:%SZ', profile_fetched_at, ?) "
                   "WHERE profile_fetched_at IS NOT NULL", [f"-{days} days"])


def test_first_run_fetches_each_person_once_and_keeps_company_and_location(sim_factory, tmp_path):
    world = tiny_world()
    for user in world["users"]:
        if user["login"] == "maintainer":
            user.update(company="@codeforjapan", location="東京都渋谷区", created_at="2015-04-01T00:00:00Z")
    sim = sim_factory(world)
    result, db = run(world, sim, tmp_path)
    assert result.outcome == "complete", result.error
    asked = [r["path"].removeprefix("/users/") for r in profile_requests(sim)]
    assert sorted(asked) == sorted(known_people(db)) and len(asked) == len(set(asked))
    assert set(asked) <= people(world) and "github-actions[bot]" not in asked and "Tokyo-Metro-Gov" not in asked
    row = db.execute("SELECT company, location, created_at, type, profile_etag, profile_status, profile_fetched_at "
                     "FROM users WHERE login = 'maintainer'").fetchone()
    assert row[:4] == ("@codeforjapan", "東京都渋谷区", "2015-04-01T00:00:00Z", "User")
    assert row[4] and row[5] == "found" and row[6]
    # the e-mail the world holds is never served, and never stored
    assert not db.execute("SELECT count(*) FROM users WHERE name LIKE '%@%' OR company LIKE '%example.org%'").fetchone()[0]


def test_refresh_within_n_days_asks_nothing_and_after_n_days_304s_cost_no_quota(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    run(world, sim, tmp_path, profile_refresh_days=30)
    first = profile_requests(sim)
    assert first and all(r["quota"] for r in first)

    run(world, sim, tmp_path, profile_refresh_days=30)
    assert profile_requests(sim) == []  # within 30 days: not one request

    _, db = run(world, sim, tmp_path, profile_refresh_days=30)
    age_profiles(db, 31)
    before = dict(db.execute("SELECT id, profile_fetched_at FROM users WHERE profile_fetched_at IS NOT NULL"))
    _, db = run(world, sim, tmp_path, profile_refresh_days=30)
    again = profile_requests(sim)
    assert len(again) == len(first) and all(r["status"] == 304 and not r["quota"] for r in again)
    after = dict(db.execute("SELECT id, profile_fetched_at FROM users WHERE profile_fetched_at IS NOT NULL"))
    assert all(after[i] > before[i] for i in before)  # checked now: not asked again for 30 days


def test_a_changed_profile_is_read_again_after_n_days(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    _, db = run(world, sim, tmp_path)
    sim.app.world.users["newcomer"]["location"] = "Osaka, Japan"
    age_profiles(db, 40)
    _, db = run(world, sim, tmp_path)
    answers = {r["path"]: r["status"] for r in profile_requests(sim)}
    assert answers["/users/newcomer"] == 200 and answers["/users/maintainer"] == 304
    assert db.execute("SELECT location FROM users WHERE login = 'newcomer'").fetchone()[0] == "Osaka, Japan"


def test_a_deleted_account_is_recorded_gone_and_the_run_completes(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    _, db = run(world, sim, tmp_path)
    profile_requests(sim)
    with db.conn:  # seen in an item once; the account has since been deleted on GitHub
        db["users"].insert({"id": 999, "login": "vanished", "type": "User", "is_bot": 0})
    result, db = run(world, sim, tmp_path)
    assert result.outcome == "complete" and not result.failed
    assert [(r["path"], r["status"]) for r in profile_requests(sim)] == [("/users/vanished", 404)]
    row = db.execute("SELECT profile_status, profile_fetched_at, profile_etag FROM users WHERE id = 999").fetchone()
    assert row[0] == "gone" and row[1] and row[2] is None
    run(world, sim, tmp_path)
    assert profile_requests(sim) == []  # not asked again before the refresh days


def test_the_budget_caps_a_run_and_the_next_run_goes_on(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    _, db = run(world, sim, tmp_path, profile_budget=2)
    assert len(profile_requests(sim)) == 2
    total = len(known_people(db))
    fetched = [2]
    while fetched[-1] and len(fetched) < 10:
        _, db = run(world, sim, tmp_path, profile_budget=2)
        fetched.append(len(profile_requests(sim)))
    assert sum(fetched) == total and fetched[-1] == 0
    _, db = run(world, sim, tmp_path, profile_budget=0)
    assert profile_requests(sim) == []


def test_a_run_killed_between_profiles_keeps_each_one_written(sim_factory, tmp_path, monkeypatch):
    """Each profile is its own transaction: a crash after k profiles keeps k, and the next run
    asks only for the others."""
    world = tiny_world()
    sim = sim_factory(world)
    from civicbot.store import write

    original, calls = write.write_profile, []

    def crash_on_third(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(write, "write_profile", crash_on_third)
    try:
        run(world, sim, tmp_path)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(write, "write_profile", original)
    db = open_store(tmp_path / "p.db")
    done = {r[0] for r in db.execute("SELECT id FROM users WHERE profile_fetched_at IS NOT NULL")}
    assert done == set(calls[:2])
    profile_requests(sim)
    _, db = run(world, sim, tmp_path)
    asked = {r["path"].removeprefix("/users/") for r in profile_requests(sim)}
    ids = dict(db.execute("SELECT login, id FROM users"))
    assert {ids[login] for login in asked} == {ids[login] for login in known_people(db)} - done


def test_due_order_new_people_first_then_the_oldest(tmp_path):
    db = open_store(tmp_path / "d.db")
    with db.conn:
        db["users"].insert_all([
            {"id": 1, "login": "old", "type": "User", "is_bot": 0, "profile_fetched_at": "2020-01-01T00:00:00Z"},
            {"id": 2, "login": "older", "type": "User", "is_bot": 0, "profile_fetched_at": "2019-01-01T00:00:00Z"},
            {"id": 3, "login": "new", "type": "User", "is_bot": 0},
            {"id": 4, "login": "fresh", "type": "User", "is_bot": 0, "profile_fetched_at": "2020-06-20T00:00:00Z"},
            {"id": 5, "login": "robot", "type": "Bot", "is_bot": 1, "bot_reason": "type"},
            {"id": 6, "login": "an-org", "type": "Organization", "is_bot": 0},
        ])
    due = profiles_due(db, "2020-07-01T00:00:00Z", 30, 10)
    assert [login for _, login, _ in due] == ["new", "older", "old"]
    assert [login for _, login, _ in profiles_due(db, "2020-07-01T00:00:00Z", 30, 2)] == ["new", "older"]


def test_the_simulator_serves_github_shaped_profiles_with_etags(sim_factory):
    world = tiny_world()
    for user in world["users"]:
        if user["login"] == "maintainer":
            user.update(company="株式会社サンプル", location="Sapporo, Hokkaido")
    sim = sim_factory(world)
    auth = {"Authorization": f"token {TOKEN}"}
    kinds = {login: requests.get(f"{sim.url}/users/{login}", headers=auth).json()["type"]
             for login in ("maintainer", "codeforsapporo", "github-actions[bot]")}
    assert kinds == {"maintainer": "User", "codeforsapporo": "Organization", "github-actions[bot]": "Bot"}
    first = requests.get(f"{sim.url}/users/maintainer", headers=auth)
    body = first.json()
    assert (body["company"], body["location"], body["email"]) == ("株式会社サンプル", "Sapporo, Hokkaido", None)
    profile_requests(sim)
    again = requests.get(f"{sim.url}/users/maintainer", headers={**auth, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert [r["quota"] for r in profile_requests(sim)] == [0]
    assert requests.get(f"{sim.url}/users/nobody-here", headers=auth).status_code == 404
