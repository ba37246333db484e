"""The world generator (civicbot.sandbox.generate) and the Tokyo data world (civicbot.sandbox.tokyo).

Small scales only, to stay fast; the 1,000,000-item run (scale 100) and its memory use are a
manual check (figures in generate.py's docstring), not part of the suite.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from civicbot.sandbox import generate
from civicbot.sandbox.generate import generate_world, generate_world_dict, write_world

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "civicbot" / "sandbox" / "world.schema.json").read_text(encoding="utf-8"))
TOKYO_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tokyo-covid19"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
CLAIM_WORDS = ("やります", "対応します", "I'll take this", "I'd like to work on this")


@pytest.fixture(scope="module")
def world() -> dict:
    return generate_world_dict(seed=1, scale=0.3)


def schema_errors(world: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(world)][:5]


def parse(t: str) -> datetime:
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def history(world: dict, head: str | None) -> list[dict]:
    commits = {c["sha"]: c for c in world["commits"]}
    out, seen, stack = [], set(), [head] if head else []
    while stack:
        sha = stack.pop()
        if sha not in seen:
            seen.add(sha)
            out.append(commits[sha])
            stack.extend(commits[sha]["parents"])
    return out


def consistency_problems(world: dict, *, all_numbers: bool = True) -> list[str]:
    """Every invariant the generator promises, as a list of broken ones (empty when fine).

    all_numbers: each repo's items are numbered 1..N in creation order (not so in the Tokyo
    data world, which holds only the merged PRs, with the merge time for the creation time).
    """
    problems: list[str] = []
    logins = {u["login"] for u in world["users"]}
    repos = {r["id"]: r for r in world["repos"]}
    items = {(i["repo_id"], i["number"]): i for i in world["issues"]}
    now = world["now"]

    def check(ok: bool, message: str) -> None:
        if not ok and len(problems) < 20:
            problems.append(message)

    for key in ("users", "repos", "issues", "comments", "events"):
        ids = [x["id"] for x in world[key]]
        check(len(ids) == len(set(ids)), f"{key}: ids are not unique")
    label_ids = [label["id"] for r in world["repos"] for label in r.get("labels", [])]
    check(len(label_ids) == len(set(label_ids)), "label ids are not unique")
    check(len({u["login"].lower() for u in world["users"]}) == len(logins), "logins not unique")
    for token in world.get("tokens", []):
        check(token["login"] in logins, f"token login {token['login']} is not a user")

    commits = {c["sha"]: c for c in world["commits"]}
    for c in world["commits"]:
        check(c["author"] is None or c["author"] in logins, f"commit author {c['author']}")
        check(all(p in commits for p in c["parents"]), f"commit {c['sha']} has an unknown parent")
    for r in world["repos"]:
        check(r["owner"] in logins, f"repo owner {r['owner']}")
        check(r.get("fork_parent_id") is None or r["fork_parent_id"] in repos, f"fork parent of {r['id']}")
        check(r.get("head") is None or r["head"] in commits, f"head of {r['owner']}/{r['name']}")
        names = [label["name"] for label in r.get("labels", [])]
        check(len(names) == len(set(names)), f"duplicate label names in {r['name']}")
        for c in r.get("contributors", []):
            check(c["login"] in logins, f"contributor {c['login']}")

    per_repo: dict[int, list[dict]] = defaultdict(list)
    for item in world["issues"]:
        per_repo[item["repo_id"]].append(item)
    for repo_id, rows in per_repo.items() if all_numbers else ():
        rows.sort(key=lambda i: i["number"])
        check([i["number"] for i in rows] == list(range(1, len(rows) + 1)), f"numbers of repo {repo_id} not 1..N")
        check(all(a["created_at"] <= b["created_at"] for a, b in zip(rows, rows[1:])),
              f"numbers of repo {repo_id} not in creation order")

    comments, events = defaultdict(list), defaultdict(list)
    for c in world["comments"]:
        comments[(c["repo_id"], c["issue_number"])].append(c)
    for e in world["events"]:
        events[(e["repo_id"], e["issue_number"])].append(e)

    for key, item in items.items():
        where = f"{repos[key[0]]['name']}#{key[1]}"
        repo_labels = {label["name"] for label in repos[key[0]].get("labels", [])}
        check(item["user"] in logins, f"{where}: user {item['user']}")
        check(item["created_at"] <= item["updated_at"] <= now, f"{where}: updated_at")
        check(all(name in repo_labels for name in item.get("labels", [])), f"{where}: label not in the repo")
        for c in comments[key]:
            check(c["user"] in logins, f"{where}: comment user {c['user']}")
            check(item["created_at"] <= c["created_at"] <= c["updated_at"] <= item["updated_at"],
                  f"{where}: comment {c['id']} outside the item's life")
        labels, assignees = [], []
        state, closed_at, closed_by = "open", None, None
        merged_events = []
        for e in sorted(events[key], key=lambda e: (e["created_at"], e["id"])):
            check(e["actor"] is None or e["actor"] in logins, f"{where}: actor {e['actor']}")
            check(item["created_at"] <= e["created_at"] <= item["updated_at"], f"{where}: event {e['id']} time")
            kind = e["event"]
            if kind in ("labeled", "unlabeled"):
                check(e["label"] in repo_labels, f"{where}: event label {e['label']}")
                if kind == "labeled" and e["label"] not in labels:
                    labels.append(e["label"])
                elif kind == "unlabeled" and e["label"] in labels:
                    labels.remove(e["label"])
            elif kind in ("assigned", "unassigned"):
                check(e["assignee"] in logins, f"{where}: assignee {e['assignee']}")
                if kind == "assigned" and e["assignee"] not in assignees:
                    assignees.append(e["assignee"])
                elif kind == "unassigned" and e["assignee"] in assignees:
                    assignees.remove(e["assignee"])
            elif kind == "closed":
                state, closed_at, closed_by = "closed", e["created_at"], e["actor"]
            elif kind == "reopened":
                state, closed_at, closed_by = "open", None, None
            elif kind == "merged":
                merged_events.append(e)
            elif kind == "cross-referenced":
                source = items.get((e["source"]["repo_id"], e["source"]["issue_number"]))
                check(source is not None, f"{where}: cross-reference from a missing item")
                check(source is None or source["created_at"] <= e["created_at"], f"{where}: reference before source")
        check(sorted(item.get("labels", [])) == sorted(labels), f"{where}: labels differ from the replay {labels}")
        check(sorted(item.get("assignees", [])) == sorted(assignees), f"{where}: assignees differ from events")
        check(item["state"] == state, f"{where}: state {item['state']} but events say {state}")
        check(item.get("closed_at") == closed_at, f"{where}: closed_at differs from the last closed event")
        check((item.get("closed_at") is not None) == (item["state"] == "closed"), f"{where}: closed_at iff closed")
        if item["state"] == "closed":
            check(item.get("closed_by") == closed_by, f"{where}: closed_by differs from the closing actor")
        pr = item.get("pull_request")
        if pr is None:
            check(not merged_events, f"{where}: an issue with a merged event")
            continue
        check(pr["head_repo_id"] is None or pr["head_repo_id"] in repos, f"{where}: head repo")
        if pr.get("merged_at"):
            check(pr["merged_by"] in logins and pr["merge_commit_sha"], f"{where}: merged without merger or sha")
            check(item["closed_at"] == pr["merged_at"], f"{where}: merged_at != closed_at")
            check(len(merged_events) == 1 and merged_events[0]["commit_id"] == pr["merge_commit_sha"],
                  f"{where}: merged event does not match the merge commit")
        else:
            check(not merged_events and not pr.get("merge_commit_sha"), f"{where}: unmerged PR with merge data")
    return problems


# ---- generated worlds ---------------------------------------------------------------------

def test_small_world_matches_the_schema(world):
    assert schema_errors(world) == []


def test_small_world_loads_in_the_simulator(world):
    from civicbot.sandbox.world import validate_world

    validate_world(world)


def test_same_seed_and_scale_give_the_same_bytes(tmp_path):
    first = "".join(generate_world(seed=7, scale=0.1))
    assert first == "".join(generate_world(seed=7, scale=0.1))
    write_world(tmp_path / "a.json", seed=7, scale=0.1)
    assert (tmp_path / "a.json").read_bytes() == first.encode("utf-8")
    assert "".join(generate_world(seed=8, scale=0.1)) != first


def test_consistency_invariants(world):
    assert consistency_problems(world) == []


def test_contributors_are_the_commit_authors_of_the_history(world):
    for repo in world["repos"]:
        counts = Counter(c["author"] for c in history(world, repo.get("head")) if c["author"])
        expected = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
        assert [(c["login"], c["contributions"]) for c in repo["contributors"]] == expected, repo["name"]


def test_items_grow_linearly_with_scale():
    small, large = generate_world_dict(seed=3, scale=0.1), generate_world_dict(seed=3, scale=0.3)
    for key in ("issues", "comments", "events"):
        ratio = len(large[key]) / len(small[key])
        assert 2.4 < ratio < 3.6, (key, len(small[key]), len(large[key]))
    assert 900 < len(small["issues"]) < 1200   # scale 1 is about 10,000 issues and PRs
    history_lengths = [len(history(large, r["head"])) for r in large["repos"]]
    assert max(history_lengths) < 100          # histories stay small


def derivatives_of(world: dict) -> list[dict]:
    """Regional derivatives: repos other than the upstream, named for a place (personal forks are not)."""
    upstream = world["repos"][0]
    return [r for r in world["repos"][1:] if r["description"] != upstream["description"]]


def test_tokyo_shaped_family(world):
    repos = {r["id"]: r for r in world["repos"]}
    upstream = world["repos"][0]
    assert (upstream["owner"], upstream["name"]) == ("Tokyo-Metro-Gov", "covid19")
    assert upstream["former_names"] == ["tokyo-metropolitan-gov/covid19"]
    owner = next(u for u in world["users"] if u["login"] == "Tokyo-Metro-Gov")
    assert owner["type"] == "Organization"

    derivatives = derivatives_of(world)
    assert 15 <= len(derivatives) <= 80
    assert all(JAPANESE.search(r["description"]) for r in derivatives)
    upstream_history = history(world, upstream["head"])
    root = next(c["sha"] for c in upstream_history if not c["parents"])

    def shares_root(repo: dict) -> bool:
        return any(c["sha"] == root for c in history(world, repo.get("head")))

    assert any(r["fork_parent_id"] is None and shares_root(r) for r in derivatives), "a copy sharing the root"
    assert any(r["head"] and not shares_root(r) for r in derivatives), "a restarted history"
    assert any(r["fork_parent_id"] and repos[r["fork_parent_id"]]["fork_parent_id"] for r in derivatives), \
        "a fork of a fork"
    assert {"deleted", "taken_down"} <= {r["status"] for r in derivatives}
    assert any(r["archived"] for r in derivatives) and any(r["head"] is None for r in derivatives)
    assert any("covid19-japan" in r["topics"] for r in derivatives)
    upstream_shas = {c["sha"] for c in upstream_history}

    def ahead_and_behind(repo: dict) -> bool:
        shas = {c["sha"] for c in history(world, repo["head"])}
        return bool(shas - upstream_shas) and bool(upstream_shas - shas)

    forks = [r for r in derivatives if r["fork_parent_id"] == upstream["id"] and r["head"]]
    assert any(ahead_and_behind(r) for r in forks), "forks both ahead of and behind the upstream"

    users = {u["login"]: u for u in world["users"]}
    assert users["github-actions[bot]"]["type"] == users["dependabot[bot]"]["type"] == "Bot"
    assert users["covid19-data-updater"]["type"] == "User"
    assert any(t["login"] == "civicbot-demo" for t in world["tokens"]) and "civicbot-demo" in users


def test_people_and_activity_look_like_tokyo(world):
    upstream = world["repos"][0]
    items = [i for i in world["issues"] if i["repo_id"] == upstream["id"]]
    prs = [i for i in items if i["pull_request"]]
    assert max(len(items) for items in _items_by_repo(world).values()) == len(items), "the upstream is the largest"
    # burst: most upstream PRs in the first three weeks after the launch (2020-03-03 JST)
    launch = datetime(2020, 3, 2, 15, tzinfo=timezone.utc)
    in_burst = [p for p in prs if 0 <= (parse(p["created_at"]) - launch).days < 21]
    assert len(in_burst) > len(prs) / 2
    assert max(p["created_at"] for p in prs) > "2020-07-01", "a long tail for months"
    # heavy-tailed PRs per person: most contributors open one or two, a few open many
    per_author = Counter(p["user"] for p in prs if not p["user"].endswith("[bot]"))
    counts = sorted(per_author.values())
    assert counts[len(counts) // 2] <= 2 and counts[-1] >= 10
    by_bots = Counter(p["user"] for p in world["issues"] if p["pull_request"] and p["user"] in
                      ("github-actions[bot]", "dependabot[bot]", "covid19-data-updater"))
    assert len(by_bots) == 3 and by_bots["covid19-data-updater"] >= 10
    states = Counter("merged" if p["pull_request"]["merged_at"] else p["state"] for p in prs)
    assert states["merged"] > states["closed"] > 0 and states["open"] > 0
    assert any(p["pull_request"]["draft"] for p in world["issues"] if p["pull_request"])
    assert any(p["pull_request"]["head_repo_id"] not in (None, upstream["id"]) for p in prs), "PRs from forks"
    assert sum(bool(JAPANESE.search(i["title"])) for i in world["issues"]) > len(world["issues"]) / 3
    assert any(not JAPANESE.search(i["title"]) for i in world["issues"])
    assert any("```" in (i["body"] or "") for i in world["issues"])
    assert any(c["user"] == "netlify[bot]" for c in world["comments"]), "bots comment too"


def _items_by_repo(world: dict) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    for item in world["issues"]:
        out[item["repo_id"]].append(item)
    return out


def test_good_first_issues_are_labelled_by_maintainers_and_claimed(world):
    mergers = {(i["repo_id"], i["pull_request"]["merged_by"]) for i in world["issues"]
               if i["pull_request"] and i["pull_request"]["merged_by"]}
    gfi_events = [e for e in world["events"] if e["event"] == "labeled" and e["label"] == "good first issue"]
    merging_repos = {repo_id for repo_id, _ in mergers}
    assert gfi_events
    assert all((e["repo_id"], e["actor"]) in mergers for e in gfi_events if e["repo_id"] in merging_repos)
    labels = {name for i in world["issues"] for name in i["labels"]}
    assert {"good first issue", "bug", "enhancement", "documentation", "翻訳", "i18n", "accessibility",
            "help wanted"} <= labels
    items = {(i["repo_id"], i["number"]): i for i in world["issues"]}
    claims = [c for c in world["comments"] if any(w in c["body"] for w in CLAIM_WORDS)]


    def answered(claim: dict, item: dict) -> bool:
        """A later PR by the claimer, in the same repo, that closes the claimed issue."""
        return (item["pull_request"] is not None and item["user"] == claim["user"]
                and item["repo_id"] == claim["repo_id"] and item["number"] > claim["issue_number"]
                and f"close #{claim['issue_number']}" in (item["body"] or ""))

    followed = [c for c in claims if any(answered(c, i) for i in items.values())]
    assert len(followed) >= 3, "claims followed by a PR from the claimer that closes the issue"
    assigned = {(e["repo_id"], e["issue_number"], e["assignee"]) for e in world["events"] if e["event"] == "assigned"}
    assert any((c["repo_id"], c["issue_number"], c["user"]) in assigned for c in followed)


def test_derivative_count_follows_scale():
    assert generate.derivative_count(0.1) >= 15 and generate.derivative_count(1.0) == 30
    assert generate.derivative_count(10) == generate.derivative_count(100) == 80


# ---- the Tokyo data world -----------------------------------------------------------------

@pytest.fixture(scope="module")
def tokyo_world() -> dict:
    if not (TOKYO_DATA / "tokyo_prs.csv").exists():
        pytest.skip(f"../shared/data/tokyo-covid19 is absent ({TOKYO_DATA}); it is read from beside the project")
    from civicbot.sandbox.tokyo import world_from_tokyo_data

    return world_from_tokyo_data(TOKYO_DATA)


def test_tokyo_data_world(tokyo_world):
    from civicbot.sandbox.tokyo import TOKYO_ROOT
    from civicbot.sandbox.world import validate_world

    assert schema_errors(tokyo_world) == []
    validate_world(tokyo_world)
    assert consistency_problems(tokyo_world, all_numbers=False) == []
    upstream, *derivatives = tokyo_world["repos"]
    merged = [i for i in tokyo_world["issues"] if i["pull_request"]["merged_at"]]
    assert len(merged) == 1187 and all(i["repo_id"] == upstream["id"] for i in merged)
    assert all(i["pull_request"]["merged_at"].endswith("Z") for i in merged)
    assert len(derivatives) == 15
    sharing = [r for r in derivatives if any(c["sha"] == TOKYO_ROOT for c in history(tokyo_world, r["head"]))]
    assert len(sharing) == 14
    assert {f"{r['owner']}/{r['name']}" for r in derivatives} - {f"{r['owner']}/{r['name']}" for r in sharing} \
        == {"codefortoda/covid19-saitama"}
    users = {u["login"]: u for u in tokyo_world["users"]}
    assert users["github-actions[bot]"]["type"] == "Bot"
    first = next(i for i in merged if i["number"] == 1)
    assert first["created_at"] == "2020-02-29T05:19:22Z" and first["user"] == "tokyo-maintainer-placeholder"


def test_decoys_and_fork_owners_other_repos():
    small = generate_world_dict(seed=5, scale=0.05)
    for w, scale in ((small, 0.05), (None, 0.3)):
        w = w or generate_world_dict(seed=5, scale=scale)
        truth = generate.family_truth(w)
        repos = {r["id"]: r for r in w["repos"]}
        owner_of = {rid: repos[rid]["owner"] for rid in repos}
        upstream_root = next(c["sha"] for c in history(w, repos[truth["upstream_id"]]["head"]) if not c["parents"])
        assert 3 <= len(truth["decoys"]) == generate.decoy_count(scale)
        for rid in truth["decoys"]:
            d = repos[rid]
            assert d["fork_parent_id"] is None and d["head"]
            assert upstream_root not in {c["sha"] for c in history(w, d["head"])}, "a decoy has its own root"
            assert re.search(r"covid|コロナ", f"{d['name']} {d['description']}", re.I)
        family = truth["forks"] | truth["shared_root"] | truth["restarted"]
        derivative_owners = {owner_of[i] for i in family}
        assert any(owner_of[i] in derivative_owners for i in truth["decoys"]), "a decoy in a derivative owner's account"
        assert any(repos[i]["name"] == "covid19" for i in truth["decoys"])
        fork_owners = {owner_of[i] for i in truth["forks"]}
        assert len(truth["unrelated"]) >= 3 and all(owner_of[i] in fork_owners for i in truth["unrelated"])
        assert any(owner_of[i] in fork_owners for i in truth["shared_root"]), "a fork owner's copy sharing the root"
        assert truth["empty"] <= truth["restarted"] and len(truth["restarted"]) == 2
        kinds = [truth[k] for k in ("forks", "shared_root", "restarted", "decoys", "unrelated")]
        assert sum(map(len, kinds)) == len(repos) - 1 and len(set().union(*kinds)) == len(repos) - 1  # a partition
