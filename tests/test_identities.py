"""Persons (civicbot.metrics.people): accounts and commit identities merged, the people count of the
impact summary with every kind of contribution, places of people, and doctor's likely duplicates."""

from __future__ import annotations

from datetime import date

import pytest
from issue17_tables import ensure_issue17_tables

from civicbot.config import Config, ConfigError, load_config
from civicbot.metrics.people import person_frame, write_classification
from civicbot.metrics.summary import Window, format_summary, impact_summary
from civicbot.store import open_store

USERS = [(1, "Tokyo-Metro-Gov", "Organization", None, None), (2, "taro", "User", "Taro Yamada", "東京都渋谷区"),
         (3, "taro-work", "User", "Taro Yamada", "Tokyo, Japan"), (4, "hanako", "User", "Hanako", "大阪府"),
         (5, "github-actions[bot]", "Bot", None, None), (6, "jiro_2", "User", None, "Earth"),
         (7, "jiro", "User", None, "Berlin, Germany"), (8, "data-updater", "User", None, None)]
IN = "2020-03-05T03:00:00Z"     # inside 2020-03-03..03-24 (Asia/Tokyo)
OUT = "2020-04-01T03:00:00Z"    # after it


def config(**extra) -> Config:
    return Config.model_validate({"name": "t", "upstream": "Tokyo-Metro-Gov/covid19", "timezone": "Asia/Tokyo",
                                  "bots": {"logins": ["data-updater"]}, **extra})


def commit(db, sha, at, *, author_id=None, name=None, email=None, noreply=None, repo=10):
    db["commits"].insert({"sha": sha, "repo_id": repo, "author_id": author_id, "author_name": name,
                          "author_email_hash": email, "author_noreply_login": noreply, "authored_at": at,
                          "committed_at": at, "is_merge": 0})


@pytest.fixture
def db(tmp_path):
    db = open_store(tmp_path / "t.db")
    ensure_issue17_tables(db)
    for uid, login, kind, name, location in USERS:
        db["users"].insert({"id": uid, "login": login, "type": kind, "name": name, "location": location})
    db["repos"].insert({"id": 10, "full_name": "Tokyo-Metro-Gov/covid19", "owner": "Tokyo-Metro-Gov",
                        "name": "covid19", "created_at": "2020-03-01T00:00:00Z"})
    db["discoveries"].insert({"repo_id": 10, "method": "upstream"})
    db.conn.commit()
    return db


def persons(db, cfg=None) -> dict[str, str]:
    """identity -> person_id, for the persons only."""
    frame = person_frame(db, cfg or config())
    return dict(zip(frame.loc[frame["is_person"] == 1, "identity"], frame.loc[frame["is_person"] == 1, "person_id"]))


def test_each_account_is_a_person_of_its_own_without_commits(db):
    got = persons(db)
    assert got == {"user:2": "user:2", "user:3": "user:3", "user:4": "user:4", "user:6": "user:6", "user:7": "user:7"}


def test_a_linked_commit_is_its_account_and_its_email_joins_a_second_account(db):
    commit(db, "a", IN, author_id=2, name="Taro Yamada", email="h-taro")
    commit(db, "b", IN, author_id=3, name="Taro Y", email="h-taro")  # same e-mail, other account: one person
    commit(db, "c", IN, name="taro", email="h-taro")                    # unlinked, same e-mail: that person too
    got = persons(db)
    assert got["user:3"] == got["user:2"] == got["email:h-taro"] == "user:2"
    rules = person_frame(db, config()).set_index("identity")["rule"]
    assert rules["user:3"] == "shared e-mail hash"


def test_an_address_used_by_more_accounts_than_one_person_has_joins_no_one(db):
    """A tutorial's you@example.com, or a simulator's one default address, is not a person."""
    for sha, uid in (("a", 2), ("b", 4), ("c", 6), ("d", 7)):
        commit(db, sha, IN, author_id=uid, name=f"n{uid}", email="h-shared")
    got = persons(db)
    assert len({got[f"user:{uid}"] for uid in (2, 4, 6, 7)}) == 4
    commit(db, "e", IN, author_id=2, name="Taro Yamada", email="h-taro")
    commit(db, "f", IN, author_id=3, name="Taro Yamada", email="h-taro")  # two accounts: still one person
    assert persons(db)["user:3"] == "user:2"


def test_a_noreply_login_is_that_account(db):
    commit(db, "a", IN, noreply="Hanako", email="h-noreply")
    commit(db, "b", IN, noreply="someone-unstored", email="h-other")
    got = persons(db)
    assert got["email:h-noreply"] == "user:4"
    assert got["email:h-other"] == got["login:someone-unstored"] != "user:4"


def test_unlinked_identities_by_email_hash_else_by_normalised_name(db):
    commit(db, "a", IN, name="Ichiro Suzuki", email="h-1")
    commit(db, "b", IN, name="Ichiro Suzuki", email="h-2")    # same common name, other e-mail: another person
    commit(db, "c", IN, name="Saburo  Sato")
    commit(db, "d", IN, name="ＳＡＢＵＲＯ sato")              # no e-mail: joined by the normalised name
    commit(db, "e", IN, name="Taro Yamada")                   # a name alone never joins an account
    got = persons(db)
    assert got["email:h-1"] != got["email:h-2"]
    assert "name:saburo sato" in got and len([k for k in got if k.startswith("name:saburo")]) == 1
    assert got["name:taro yamada"] not in (got["user:2"], got["user:3"])


def test_config_identities_join_logins_and_names(db):
    commit(db, "a", IN, name="Taro Yamada")
    commit(db, "b", IN, name="taro yamada", email="h-home")
    cfg = config(identities=[{"logins": ["taro", "TARO-work"], "names": ["Taro Yamada"]}])
    got = persons(db, cfg)
    assert got["user:2"] == got["user:3"] == got["name:taro yamada"] == got["email:h-home"] == "user:2"
    rules = person_frame(db, cfg).set_index("identity")["rule"]
    assert rules["user:3"] == "config identities"


def test_bots_stay_out_whatever_they_share(db):
    commit(db, "a", IN, author_id=5, email="h-bot")
    commit(db, "b", IN, name="someone", email="h-bot")                          # the bot's e-mail: the bot
    commit(db, "c", IN, name="dependabot[bot]", email="h-dependabot")          # bot-looking name
    commit(db, "d", IN, noreply="renovate[bot]")                               # bot-looking login
    commit(db, "e", IN, author_id=8, name="Updater")                           # listed in bots.logins
    commit(db, "f", IN, name="covid19 data updater", email="h-updater")        # detection's name patterns
    frame = person_frame(db, config()).set_index("identity")
    for key in ("user:5", "email:h-bot", "email:h-dependabot", "login:renovate[bot]", "user:8", "user:1",
                "email:h-updater"):
        assert frame.loc[key, "is_person"] == 0, key
    assert frame.loc["email:h-dependabot", "is_automation"] == 1 and frame.loc["user:1", "is_automation"] == 0


def test_identities_config_errors_say_what_to_do(tmp_path):
    for entry, message in (([{"logins": ["taro"]}], "two or more"),
                           ([{"logins": ["a", "b"]}, {"logins": ["B", "c"]}], "two identities entries"),
                           ([{"login": ["a", "b"]}], "login")):
        with pytest.raises(ValueError, match=message):
            config(identities=entry)
    path = tmp_path / "c.yml"
    path.write_text("name: t\nupstream: a/b\nidentities:\n  - {logins: [taro]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="identities"):
        load_config(path)


# --- the people count -----------------------------------------------------------------------


def item(db, iid, user, at, *, pr=False):
    db["items"].insert({"id": iid, "repo_id": 10, "number": iid, "is_pull_request": int(pr), "user_id": user,
                        "state": "open", "created_at": at, "updated_at": at})


def window_figures(db, cfg=None):
    return impact_summary(db, cfg or config(), Window(date(2020, 3, 3), date(2020, 3, 24)), ["upstream"])


def test_people_count_every_kind_apart_commit_only_people_by_authored_at(db):
    item(db, 1, 4, IN)                       # hanako opens an issue
    item(db, 2, 2, IN, pr=True)              # taro opens a PR
    item(db, 3, 5, IN, pr=True)              # the bot opens a PR: not a person
    db["comments"].insert({"id": 1, "repo_id": 10, "item_id": 1, "issue_number": 1, "user_id": 7,
                           "created_at": IN, "updated_at": IN})
    db["reviews"].insert({"id": 1, "repo_id": 10, "pull_number": 2, "user_id": 6, "state": "APPROVED",
                          "submitted_at": IN})
    db["review_comments"].insert({"id": 1, "repo_id": 10, "pull_number": 2, "user_id": 3, "created_at": IN,
                                  "updated_at": IN})
    db["review_comments"].insert({"id": 2, "repo_id": 10, "pull_number": 2, "user_id": 2, "created_at": IN,
                                  "updated_at": IN})   # taro answering on his own PR: not a review
    db["reviews"].insert({"id": 2, "repo_id": 10, "pull_number": 2, "user_id": 4, "state": "PENDING",
                          "submitted_at": IN})          # never submitted: none
    commit(db, "in", IN, name="Commit Only", email="h-commit-only")        # commit-only, inside: counts
    commit(db, "out", OUT, name="Later Person", email="h-later")           # commit-only, outside: does not
    commit(db, "taro", IN, author_id=2, email="h-taro")                    # taro again: still one person
    db.conn.commit()
    summary = window_figures(db)
    f = {k: v["without_bots"] for k, v in summary["figures"].items()}
    assert (f["commit_authors"], f["pr_authors"], f["reviewers"], f["issue_authors"], f["commenters"]) == (2, 1, 2, 1, 1)
    assert f["contributors"] == 6   # taro, taro-work, hanako, jiro_2, jiro, Commit Only
    assert summary["figures"]["pr_authors"]["all"] == 2
    merged = window_figures(db, config(identities=[{"logins": ["taro", "taro-work"]}]))
    assert merged["figures"]["contributors"]["without_bots"] == 5
    assert merged["figures"]["reviewers"]["without_bots"] == 2


def test_places_countries_and_prefectures_with_unknown_apart(db):
    for n, user in enumerate((2, 3, 4, 6, 7), start=1):
        item(db, n, user, IN)
    commit(db, "c", IN, name="Commit Only", email="h-c")
    db.conn.commit()
    every = {"publish": {"min_place_count": 1}}  # every place by name; folding has its own test
    places = window_figures(db, config(**every))["places"]
    # taro 東京都, taro-work Tokyo, hanako 大阪府, jiro Germany; jiro_2 "Earth" and the commit-only person unknown
    assert places == {"people": 6, "countries": 2, "prefectures": 2, "in_japan": 3, "abroad": 1, "other_countries": 0,
                      "japan_prefecture_unknown": 0, "other_prefectures": 0, "unknown": 2}
    merged = window_figures(db, config(identities=[{"logins": ["taro", "taro-work"]}], **every))["places"]
    assert merged["people"] == 5 and merged["in_japan"] == 2
    text = format_summary(window_figures(db, config(**every)))
    assert "2 か国・2 都道府県から" in text and "from 2 countries / 2 prefectures" in text
    assert text.index("コミットした人") < text.index("commit authors")


def test_a_store_without_the_new_tables_counts_them_as_empty(tmp_path):
    db = open_store(tmp_path / "old.db")
    for uid, login, kind, name, location in USERS:
        db["users"].insert({"id": uid, "login": login, "type": kind, "name": name, "location": location})
    db["repos"].insert({"id": 10, "full_name": "Tokyo-Metro-Gov/covid19", "owner": "Tokyo-Metro-Gov",
                        "name": "covid19", "created_at": "2020-03-01T00:00:00Z"})
    db["discoveries"].insert({"repo_id": 10, "method": "upstream"})
    item(db, 1, 4, IN)
    for table in ("commits", "reviews", "review_comments"):  # as a store from before migrations 9-10
        if table in db.table_names():
            db[table].drop()
    db.conn.commit()
    assert write_classification(db, config())["persons"] == 8
    f = window_figures(db)["figures"]
    assert f["contributors"]["without_bots"] == 1 and f["commit_authors"]["without_bots"] == 0


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_lists_likely_duplicates_with_the_entry_to_paste(db, tmp_path):
    from civicbot.doctor import _identities
    from civicbot.metrics.people import likely_duplicates

    for uid, login in ((11, "hanak0"), (12, "bob"), (13, "bop"), (14, "kenji-sato"), (15, "kenjisato99")):
        db["users"].insert({"id": uid, "login": login, "type": "User"})
    db["users"].insert({"id": 16, "login": "updater-bot", "type": "Bot"})  # bots are never suggested
    db["users"].insert({"id": 17, "login": "hanako-bot", "type": "Bot"})
    db.conn.commit()
    pairs = {tuple(p["logins"]): p["why"] for p in likely_duplicates(db, config())}
    assert pairs == {("hanako", "hanak0"): "logins one letter apart",
                     ("jiro_2", "jiro"): "same login without - _ and digits",
                     ("kenji-sato", "kenjisato99"): "same login without - _ and digits",
                     ("taro", "taro-work"): "same name 'Taro Yamada'"}  # bob / bop: too short to suggest
    confirmed = config(identities=[{"logins": ["taro", "taro-work"]}], database={"path": str(tmp_path / "t.db")})
    check = _identities(confirmed)
    assert check.ok and "taro-work" not in check.detail
    assert "- {logins: [hanako, hanak0]}" in check.detail and "3 pair(s)" in check.detail


def test_one_edit():
    from civicbot.metrics.people import _one_edit

    assert _one_edit("hanako", "hanak0") and _one_edit("hanako", "hanakko") and _one_edit("hanako", "anako")
    assert not _one_edit("hanako", "hanako") and not _one_edit("hanako", "hnaako") and not _one_edit("ab", "abcd")


# --- every table counts persons -------------------------------------------------------------


def test_metrics_periodic_counts_persons_after_the_merge(db):
    from civicbot.metrics import write_all_metrics

    item(db, 1, 2, IN)
    item(db, 2, 3, IN)
    item(db, 3, 4, IN)
    db.conn.commit()

    def family_week(cfg):
        write_all_metrics(db, cfg)
        return db.execute("""SELECT contributors, new_contributors, contributor_absence_factor FROM metrics_periodic
                             WHERE scope = 'family' AND period_kind = 'week' AND period_start = '2020-03-02'""").fetchone()

    assert family_week(config()) == (3, 3, 2)
    assert family_week(config(identities=[{"logins": ["taro", "taro-work"]}])) == (2, 2, 1)
    assert db.execute("SELECT count(DISTINCT person_id), count(*) FROM contributors_summary").fetchone() == (2, 3)
    assert db.execute("SELECT count(DISTINCT person_id) FROM activity WHERE is_person = 1").fetchone()[0] == 2


def test_first_contributions_are_a_persons_not_an_accounts(db):
    from civicbot.metrics import write_all_metrics

    item(db, 1, 2, IN)                         # taro's first issue
    item(db, 2, 3, OUT)                        # taro-work's first: the same person, not a newcomer
    db["comments"].insert({"id": 1, "repo_id": 10, "item_id": 1, "issue_number": 1, "user_id": 3,
                           "created_at": OUT, "updated_at": OUT})  # taro welcoming himself: no welcome
    db.conn.commit()
    write_all_metrics(db, config())
    assert db.execute("SELECT user_id, welcomed_by_id FROM first_contributions ORDER BY user_id").fetchall() \
        == [(2, 3), (3, None)]
    write_all_metrics(db, config(identities=[{"logins": ["taro", "taro-work"]}]))
    assert db.execute("SELECT user_id, item_id, welcomed_by_id FROM first_contributions").fetchall() == [(2, 1, None)]


def test_an_authors_other_account_is_no_first_response(db):
    from civicbot.metrics import write_all_metrics

    item(db, 1, 2, IN)
    db["comments"].insert({"id": 1, "repo_id": 10, "item_id": 1, "issue_number": 1, "user_id": 3,
                           "created_at": "2020-03-05T05:00:00Z", "updated_at": IN})  # taro-work: taro's other account
    db.conn.commit()

    def unanswered(cfg):
        write_all_metrics(db, cfg)
        return db.execute("""SELECT unanswered_issues, first_response_issues_median_hours FROM metrics_periodic
                             WHERE scope = 'family' AND period_kind = 'week' AND period_start = '2020-03-02'""").fetchone()

    assert unanswered(config()) == (0, 2.0)
    assert unanswered(config(identities=[{"logins": ["taro", "taro-work"]}])) == (1, None)


def test_the_summary_leaves_the_contributions_table_as_it_counts(db):
    """The people the summary prints are the `contributions` table's (what the dashboards count): a
    change of `identities` shows in both at once."""
    from civicbot.metrics.summary import write_contributions

    for n, user in enumerate((2, 3, 4), start=1):
        item(db, n, user, IN)
    db.conn.commit()
    write_classification(db, config())
    write_contributions(db, config())
    merged = window_figures(db, config(identities=[{"logins": ["taro", "taro-work"]}]))
    people = db.execute("SELECT count(DISTINCT person_id) FROM contributions WHERE is_person = 1").fetchone()[0]
    assert merged["figures"]["contributors"]["without_bots"] == people == 2


def test_place_figures_count_the_persons_of_some_contributions(db):
    """summary.place_figures (the summary's "from N countries / M prefectures"), apart from
    origins.people_places (each account's place) by its name."""
    from civicbot.metrics import origins, summary

    item(db, 1, 4, IN)   # hanako, 大阪府
    item(db, 2, 7, IN)   # jiro, Germany
    db.conn.commit()
    write_classification(db, config())
    who = summary.read_contributions(db, config())
    assert summary.place_figures(db, who, 1) == {"people": 2, "countries": 2, "prefectures": 1, "in_japan": 1,
                                                 "abroad": 1, "other_countries": 0, "japan_prefecture_unknown": 0,
                                                 "other_prefectures": 0, "unknown": 0}
    assert not hasattr(summary, "people_places") and hasattr(origins, "people_places")


def test_small_places_are_other_in_the_summary_and_the_report_and_the_counts_add_up(db):
    """Places of fewer than publish.min_place_count (3) people are folded as on the site
    (origins.fold_places_of): 東京都 has 3 people and is named; 大阪府 (hanako alone) is "other
    prefectures", Germany (jiro alone) "other countries and regions", in the summary and in the
    report's lists, Japanese first; the figures still add up to the people."""
    from civicbot.publish.report import _contributor_places, _places_html
    from civicbot.publish.report_text import TEXT

    db["users"].insert({"id": 9, "login": "saburo", "type": "User", "name": "Saburo", "location": "東京都"})
    for n, user in enumerate((2, 3, 4, 6, 7, 9), start=1):
        item(db, n, user, IN)
    db.conn.commit()
    summary = window_figures(db)
    places = summary["places"]
    assert places == {"people": 6, "countries": 1, "prefectures": 1, "in_japan": 4, "abroad": 0, "other_countries": 1,
                      "japan_prefecture_unknown": 0, "other_prefectures": 1, "unknown": 1}
    assert places["in_japan"] + places["abroad"] + places["other_countries"] + places["unknown"] == places["people"]
    text = format_summary(summary)
    assert "1 か国・1 都道府県から" in text and "その他の都道府県 1 名" in text and "1 in other prefectures" in text
    assert text.index("その他の国・地域") < text.index("other countries")

    lo, hi = Window(date(2020, 3, 3), date(2020, 3, 24)).utc_bounds(config())
    report = _contributor_places(db, config(), lo, hi)
    assert report == {"countries": [("JP", 4), ("other", 1)], "prefectures": [("13", 3), ("other", 1)]}
    assert sum(n for _, n in report["countries"]) == places["people"] - places["unknown"]
    assert sum(n for _, n in report["prefectures"]) == places["in_japan"] - places["japan_prefecture_unknown"]
    ja, en = _places_html(report, TEXT["ja"]), _places_html(report, TEXT["en"])
    assert "東京都" in ja and "その他の都道府県" in ja and "その他の国・地域" in ja
    assert "大阪" not in ja and "ドイツ" not in ja
    assert "Tokyo" in en and "other prefectures" in en and "Osaka" not in en and "Germany" not in en


def test_the_summary_says_when_no_profile_gives_a_place(db):
    """Issue 17: with no contributor's profile naming a country, the summary says so (Japanese, then
    English) instead of "0 か国・0 都道府県から"."""
    item(db, 1, 6, IN)   # jiro_2, "Earth": no place
    commit(db, "c", IN, name="Commit Only", email="h-c")   # no profile at all
    db.conn.commit()
    text = format_summary(window_figures(db))
    assert "貢献者 2 名: プロフィールから所在地のわかる人はいません / 2 contributors: no profile gives a place" in text
    assert "0 か国" not in text and "0 countries" not in text

