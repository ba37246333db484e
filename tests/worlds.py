"""Small hand-made worlds for the simulator's tests: every case named, nothing random."""

from __future__ import annotations

import hashlib

TOKEN = "sandbox-test-token"
READONLY_TOKEN = "sandbox-readonly-token"


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def tiny_world() -> dict:
    """An upstream with a fork, a fork of the fork, a copy sharing its root, and repos that
    are renamed, deleted, taken down, empty and private."""
    users = [
        {"id": 1, "login": "Tokyo-Metro-Gov", "type": "Organization"},
        {"id": 2, "login": "maintainer", "type": "User", "name": "Mai Ntainer", "email": "mai@example.org"},
        {"id": 3, "login": "newcomer", "type": "User"},
        {"id": 4, "login": "github-actions[bot]", "type": "Bot"},
        {"id": 5, "login": "codeforsapporo", "type": "Organization"},
        {"id": 6, "login": "hokkaido-dev", "type": "User"},
        {"id": 7, "login": "copycat", "type": "User"},
        {"id": 8, "login": "civicbot-demo", "type": "User"},
        {"id": 9, "login": "gone", "type": "User"},
    ]
    root, c2, c3 = sha("root"), sha("c2"), sha("c3")
    f1, k1 = sha("fork-own-1"), sha("copy-own-1")
    commits = [
        {"sha": root, "message": "Initial commit", "author": "maintainer", "date": "2020-03-01T00:00:00Z", "parents": []},
        {"sha": c2, "message": "Add data", "author": "newcomer", "date": "2020-03-03T00:00:00Z", "parents": [root]},
        {"sha": c3, "message": "Fix typo", "author": "maintainer", "date": "2020-03-10T00:00:00Z", "parents": [c2]},
        {"sha": f1, "message": "北海道版", "author": "hokkaido-dev", "date": "2020-03-05T00:00:00Z", "parents": [c2]},
        {"sha": k1, "message": "Copy for my city", "author": "copycat", "date": "2020-03-06T00:00:00Z", "parents": [c2]},
    ]

    def repo(rid, owner, name, **kw):
        base = {"id": rid, "owner": owner, "name": name, "created_at": "2020-03-01T00:00:00Z",
                "updated_at": "2020-03-20T00:00:00Z", "pushed_at": "2020-03-20T00:00:00Z",
                "default_branch": "development", "description": None, "homepage": None,
                "labels": [], "contributors": []}
        base.update(kw)
        return base

    labels = [
        {"id": 101, "name": "good first issue", "color": "7057ff", "description": "Good for newcomers", "default": True},
        {"id": 102, "name": "bug", "color": "d73a4a", "description": None, "default": True},
        {"id": 103, "name": "翻訳", "color": "0e8a16", "description": "translation"},
    ]
    repos = [
        repo(10, "Tokyo-Metro-Gov", "covid19", description="東京都 新型コロナウイルス感染症対策サイト",
             homepage="https://stopcovid19.metro.tokyo.lg.jp/", topics=["covid19", "covid19-japan"],
             former_names=["tokyo-metropolitan-gov/covid19"], head=c3, labels=labels, stargazers_count=6000,
             contributors=[{"login": "maintainer", "contributions": 2}, {"login": "newcomer", "contributions": 1}],
             languages={"Vue": 600_000, "TypeScript": 400_000, "JavaScript": 90_000},
             readme="Tokyo COVID-19 site. Fork it for your prefecture.",
             files={"FORKED_SITES.md": "# 派生サイト\n\n| 地域 | 運営 | URL | GitHub |\n|---|---|---|---|\n"
                                       "| 北海道 | Code for Sapporo | https://stopcovid19.hokkaido.dev/ "
                                       "| https://github.com/codeforsapporo/covid19hokkaido |\n"}),
        repo(11, "codeforsapporo", "covid19hokkaido", description="北海道 新型コロナウイルスまとめサイト",
             fork_parent_id=10, head=f1, created_at="2020-03-04T00:00:00Z", topics=["covid19"],
             contributors=[{"login": "hokkaido-dev", "contributions": 1}]),
        repo(12, "hokkaido-dev", "covid19hokkaido", description="fork of a fork", fork_parent_id=11, head=f1,
             created_at="2020-03-05T00:00:00Z"),
        repo(13, "copycat", "covid19-city", description="City COVID-19 site, copied from Tokyo", head=k1,
             created_at="2020-03-06T00:00:00Z", readme="Based on the Tokyo COVID-19 site"),
        repo(14, "gone", "covid19-deleted", fork_parent_id=10, status="deleted", head=c2),
        repo(15, "gone", "covid19-blocked", status="taken_down", head=c2),
        repo(16, "copycat", "empty", head=None),
        repo(17, "copycat", "secret", private=True, head=c2),
    ]
    issues = [
        {"id": 1001, "repo_id": 10, "number": 1, "title": "グラフの色を修正", "body": "- [ ] 色\n- [ ] 凡例",
         "user": "newcomer", "state": "closed", "state_reason": "completed", "labels": ["bug"],
         "created_at": "2020-03-03T01:00:00Z", "updated_at": "2020-03-04T00:00:00Z",
         "closed_at": "2020-03-04T00:00:00Z", "closed_by": "maintainer"},
        {"id": 1002, "repo_id": 10, "number": 2, "title": "Fix graph colours", "body": "Fixes #1",
         "user": "newcomer", "state": "closed", "created_at": "2020-03-03T02:00:00Z",
         "updated_at": "2020-03-04T00:00:00Z", "closed_at": "2020-03-04T00:00:00Z", "closed_by": "maintainer",
         "pull_request": {"head_repo_id": 11, "head_ref": "fix-colours", "base_ref": "development",
                          "merged_at": "2020-03-04T00:00:00Z", "merged_by": "maintainer",
                          "merge_commit_sha": c3, "additions": 3, "deletions": 1, "changed_files": 1}},
        {"id": 1003, "repo_id": 10, "number": 3, "title": "英語版の翻訳", "body": "Translate `/data/news.json`",
         "user": "maintainer", "state": "open", "labels": ["good first issue", "翻訳"],
         "assignees": ["newcomer"], "created_at": "2020-03-05T00:00:00Z", "updated_at": "2020-03-06T00:00:00Z"},
        {"id": 1004, "repo_id": 10, "number": 4, "title": "Bump deps", "body": None, "user": "github-actions[bot]",
         "state": "open", "created_at": "2020-03-07T00:00:00Z", "updated_at": "2020-03-07T00:00:00Z",
         "pull_request": {"head_repo_id": None, "head_ref": "deps", "base_ref": "development", "draft": True}},
        {"id": 1101, "repo_id": 11, "number": 1, "title": "札幌市のデータ", "body": "やります", "user": "hokkaido-dev",
         "state": "open", "created_at": "2020-03-05T00:00:00Z", "updated_at": "2020-03-05T00:00:00Z"},
    ]
    comments = [
        {"id": 2001, "repo_id": 10, "issue_number": 1, "user": "maintainer", "body": "ありがとうございます",
         "created_at": "2020-03-03T03:00:00Z", "updated_at": "2020-03-03T03:00:00Z"},
        {"id": 2002, "repo_id": 10, "issue_number": 3, "user": "newcomer", "body": "やります！",
         "created_at": "2020-03-05T01:00:00Z", "updated_at": "2020-03-05T01:00:00Z"},
        {"id": 2003, "repo_id": 10, "issue_number": 2, "user": "github-actions[bot]", "body": "Deploy preview ready",
         "created_at": "2020-03-03T02:05:00Z", "updated_at": "2020-03-03T02:05:00Z"},
    ]
    events = [
        {"id": 3001, "repo_id": 10, "issue_number": 1, "event": "labeled", "actor": "maintainer",
         "created_at": "2020-03-03T01:10:00Z", "label": "bug"},
        {"id": 3002, "repo_id": 10, "issue_number": 2, "event": "cross-referenced", "actor": "newcomer",
         "created_at": "2020-03-03T02:00:00Z", "source": {"repo_id": 10, "issue_number": 2}},
        {"id": 3003, "repo_id": 10, "issue_number": 2, "event": "merged", "actor": "maintainer",
         "created_at": "2020-03-04T00:00:00Z", "commit_id": c3},
        {"id": 3004, "repo_id": 10, "issue_number": 2, "event": "closed", "actor": "maintainer",
         "created_at": "2020-03-04T00:00:00Z", "commit_id": None},
        {"id": 3005, "repo_id": 10, "issue_number": 1, "event": "closed", "actor": "maintainer",
         "created_at": "2020-03-04T00:00:00Z"},
        {"id": 3006, "repo_id": 10, "issue_number": 3, "event": "labeled", "actor": "maintainer",
         "created_at": "2020-03-05T00:01:00Z", "label": "good first issue"},
        {"id": 3007, "repo_id": 10, "issue_number": 3, "event": "labeled", "actor": "maintainer",
         "created_at": "2020-03-05T00:01:00Z", "label": "翻訳"},
        {"id": 3008, "repo_id": 10, "issue_number": 3, "event": "assigned", "actor": "maintainer",
         "created_at": "2020-03-06T00:00:00Z", "assignee": "newcomer"},
        {"id": 3009, "repo_id": 10, "issue_number": 1, "event": "reopened", "actor": "newcomer",
         "created_at": "2020-03-03T05:00:00Z"},
        {"id": 3010, "repo_id": 10, "issue_number": 1, "event": "unlabeled", "actor": "maintainer",
         "created_at": "2020-03-03T01:20:00Z", "label": "bug"},
        {"id": 3011, "repo_id": 10, "issue_number": 1, "event": "labeled", "actor": "maintainer",
         "created_at": "2020-03-03T01:30:00Z", "label": "bug"},
    ]
    return {
        "format": "civicbot-sandbox-world/1", "seed": None, "description": "tiny hand-made world",
        "now": "2020-04-01T00:00:00Z",
        "tokens": [{"token": TOKEN, "login": "civicbot-demo"},
                   {"token": READONLY_TOKEN, "login": "newcomer", "can_write": False}],
        "users": users, "commits": commits, "repos": repos, "issues": issues,
        "comments": comments, "events": events,
        "reviews": [
            {"id": 4001, "repo_id": 10, "pull_number": 2, "user": "maintainer", "state": "CHANGES_REQUESTED",
             "body": "凡例も直してください", "submitted_at": "2020-03-03T04:00:00Z"},
            {"id": 4002, "repo_id": 10, "pull_number": 2, "user": "maintainer", "state": "APPROVED", "body": "",
             "submitted_at": "2020-03-03T23:00:00Z"},
        ],
        "review_comments": [
            {"id": 5001, "repo_id": 10, "pull_number": 2, "review_id": 4001, "user": "maintainer",
             "path": "components/Chart.vue", "body": "ここも", "created_at": "2020-03-03T04:00:00Z",
             "updated_at": "2020-03-03T04:00:00Z"},
            {"id": 5002, "repo_id": 10, "pull_number": 2, "in_reply_to_id": 5001, "user": "newcomer",
             "path": "components/Chart.vue", "body": "直しました", "created_at": "2020-03-03T06:00:00Z",
             "updated_at": "2020-03-03T06:30:00Z"},
        ],
    }
