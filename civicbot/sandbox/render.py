"""World rows rendered as GitHub REST JSON.

Every URL is built on the simulator's own address (`api` for API URLs, `web` for html_url),
because PyGithub refuses to follow a URL on another host. Field sets follow the response
schemas of GitHub's OpenAPI description (tests/test_sandbox_openapi.py checks them).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from .world import Repo, World

GHOST = {"id": 10137, "login": "ghost", "type": "User"}
# GitHub numbers a pull request's own id apart from its issue's ("the id of a pull request returned
# from Issues endpoints will be an issue id"): the pulls endpoints answer with the other one, so a
# client that takes one for the other fails here as it would on GitHub.
PULL_ID_OFFSET = 4_000_000_000


def pull_request_id(issue_id: int) -> int:
    return issue_id + PULL_ID_OFFSET


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Urls:
    api: str  # e.g. http://127.0.0.1:8765 (or .../api/v3 behind a prefix)
    web: str  # where html_url points; the simulator serves no HTML, so it is informational

    def repo(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"


class Renderer:
    def __init__(self, world: World, urls: Urls):
        self.world = world
        self.urls = urls

    # -- users -------------------------------------------------------------------------

    def user(self, login: str | None) -> dict | None:
        user = self.world.user(login)
        if user is None:
            return None
        return self._user(user)

    def actor(self, login: str | None) -> dict:
        """An event's actor; a deleted account shows as GitHub's `ghost` user, as on GitHub."""
        return self.user(login) or self._user(GHOST)

    def _user(self, user: dict) -> dict:
        api, web, name = self.urls.api, self.urls.web, user["login"]
        base = f"{api}/users/{name}"
        return {
            "login": name, "id": user["id"], "node_id": node_id("User", user["id"]),
            "avatar_url": f"{web}/avatars/u/{user['id']}?v=4", "gravatar_id": "",
            "url": base, "html_url": f"{web}/{name}",
            "followers_url": f"{base}/followers", "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}", "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions", "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events", "type": user["type"],
            "user_view_type": "public", "site_admin": False,
        }

    def authenticated_user(self, login: str) -> dict:
        user = self.world.user(login)
        owned = sum(1 for r in self.world.repos.values() if r.data["owner"].lower() == login.lower())
        return {
            **self.user(login), "name": user.get("name"), "company": user.get("company"),
            "blog": "", "location": user.get("location"), "email": None, "hireable": None,
            "bio": None, "twitter_username": None, "notification_email": None,
            "public_repos": owned, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": user.get("created_at", "2020-01-01T00:00:00Z"),
            "updated_at": user.get("created_at", "2020-01-01T00:00:00Z"),
            "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
            "disk_usage": 0, "collaborators": 0, "two_factor_authentication": True,
            "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
            "user_view_type": "private",  # the token's own profile: GitHub's private-user shape
        }

    # -- repos -------------------------------------------------------------------------

    def _repo_urls(self, full_name: str) -> dict:
        r = self.urls.repo(full_name)
        return {
            "forks_url": f"{r}/forks", "keys_url": f"{r}/keys{{/key_id}}",
            "collaborators_url": f"{r}/collaborators{{/collaborator}}", "teams_url": f"{r}/teams",
            "hooks_url": f"{r}/hooks", "issue_events_url": f"{r}/issues/events{{/number}}",
            "events_url": f"{r}/events", "assignees_url": f"{r}/assignees{{/user}}",
            "branches_url": f"{r}/branches{{/branch}}", "tags_url": f"{r}/tags",
            "blobs_url": f"{r}/git/blobs{{/sha}}", "git_tags_url": f"{r}/git/tags{{/sha}}",
            "git_refs_url": f"{r}/git/refs{{/sha}}", "trees_url": f"{r}/git/trees{{/sha}}",
            "statuses_url": f"{r}/statuses/{{sha}}", "languages_url": f"{r}/languages",
            "stargazers_url": f"{r}/stargazers", "contributors_url": f"{r}/contributors",
            "subscribers_url": f"{r}/subscribers", "subscription_url": f"{r}/subscription",
            "commits_url": f"{r}/commits{{/sha}}", "git_commits_url": f"{r}/git/commits{{/sha}}",
            "comments_url": f"{r}/comments{{/number}}", "issue_comment_url": f"{r}/issues/comments{{/number}}",
            "contents_url": f"{r}/contents/{{+path}}", "compare_url": f"{r}/compare/{{base}}...{{head}}",
            "merges_url": f"{r}/merges", "archive_url": f"{r}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{r}/downloads", "issues_url": f"{r}/issues{{/number}}",
            "pulls_url": f"{r}/pulls{{/number}}", "milestones_url": f"{r}/milestones{{/number}}",
            "notifications_url": f"{r}/notifications{{?since,all,participating}}",
            "labels_url": f"{r}/labels{{/name}}", "releases_url": f"{r}/releases{{/id}}",
            "deployments_url": f"{r}/deployments",
        }

    def repo(self, repo: Repo, *, full: bool = False, minimal: bool = False) -> dict:
        """A repository object: `minimal` for fork lists, `full` for GET /repos/{o}/{r}."""
        d = repo.data
        full_name = repo.full_name
        host = self.urls.web.split("://", 1)[-1]
        open_count = repo.open_issues_count()
        out = {
            "id": d["id"], "node_id": node_id("Repository", d["id"]), "name": d["name"],
            "full_name": full_name, "private": d.get("private", False), "owner": self.user(d["owner"]),
            "html_url": f"{self.urls.web}/{full_name}", "description": d.get("description"),
            "fork": d.get("fork_parent_id") is not None, "url": self.urls.repo(full_name),
            **self._repo_urls(full_name),
            "git_url": f"git://{host}/{full_name}.git", "ssh_url": f"git@{host}:{full_name}.git",
            "clone_url": f"{self.urls.web}/{full_name}.git", "svn_url": f"{self.urls.web}/{full_name}",
            "mirror_url": None, "homepage": d.get("homepage"), "language": d.get("language"),
            "forks_count": len(repo.forks), "stargazers_count": d.get("stargazers_count", 0),
            "watchers_count": d.get("stargazers_count", 0), "size": 100 + len(repo.items),
            "default_branch": d.get("default_branch", "main"), "open_issues_count": open_count,
            "is_template": False, "topics": list(d.get("topics", [])), "has_issues": True,
            "has_projects": True, "has_wiki": True, "has_pages": False, "has_downloads": True,
            "has_discussions": False, "archived": d.get("archived", False), "disabled": False,
            "visibility": "private" if d.get("private") else "public",
            "pushed_at": d.get("pushed_at", d["created_at"]), "created_at": d["created_at"],
            "updated_at": d.get("updated_at", d["created_at"]), "allow_forking": True,
            "web_commit_signoff_required": False, "license": None,
            "forks": len(repo.forks), "open_issues": open_count, "watchers": d.get("stargazers_count", 0),
        }
        if minimal:
            return out
        if full:
            parent_id = d.get("fork_parent_id")
            out.update({
                "temp_clone_token": None, "network_count": len(repo.forks), "subscribers_count": 1,
                "allow_squash_merge": True, "allow_merge_commit": True, "allow_rebase_merge": True,
                "allow_auto_merge": False, "delete_branch_on_merge": False,
            })
            if parent_id is not None:
                parent = self.world.repos[parent_id]
                source = parent
                while source.data.get("fork_parent_id") is not None:
                    source = self.world.repos[source.data["fork_parent_id"]]
                out["parent"] = self.repo(parent)
                out["source"] = self.repo(source)
        return out

    def search_repo(self, repo: Repo, score: float) -> dict:
        return {**self.repo(repo), "score": score}

    # -- issues and pull requests -------------------------------------------------------

    def label(self, repo: Repo, label: dict) -> dict:
        return {
            "id": label["id"], "node_id": node_id("Label", label["id"]),
            "url": f"{self.urls.repo(repo.full_name)}/labels/{_quote(label['name'])}",
            "name": label["name"], "color": label.get("color", "ededed"),
            "default": label.get("default", False), "description": label.get("description"),
        }

    def _item_labels(self, repo: Repo, item: dict) -> list[dict]:
        out = []
        for name in item.get("labels", []):
            label = self.world.label_for_item(repo, name)
            out.append(self.label(repo, label or {"id": 0, "name": name}))
        return out

    def author_association(self, repo: Repo, login: str | None) -> str:
        if login is None:
            return "NONE"
        if login.lower() == repo.data["owner"].lower():
            return "OWNER"
        members, contributors = self._associations(repo)
        if login.lower() in members:
            return "MEMBER"
        return "CONTRIBUTOR" if login.lower() in contributors else "NONE"

    def _associations(self, repo: Repo) -> tuple[set[str], set[str]]:
        # Simulated roles: whoever merged a PR in the repo is a member; commit authors
        # listed as contributors are contributors. Cached: asked for on every item rendered.
        cache = self.world.roles
        if repo.id not in cache:
            members = {(i.get("pull_request") or {}).get("merged_by") or "" for i in repo.items}
            cache[repo.id] = (
                {m.lower() for m in members if m},
                {c["login"].lower() for c in repo.data.get("contributors", [])},
            )
        return cache[repo.id]

    def issue(self, repo: Repo, item: dict) -> dict:
        r = self.urls.repo(repo.full_name)
        n = item["number"]
        assignees = [self.user(a) for a in item.get("assignees", [])]
        pr = item.get("pull_request")
        out = {
            "url": f"{r}/issues/{n}", "repository_url": r, "labels_url": f"{r}/issues/{n}/labels{{/name}}",
            "comments_url": f"{r}/issues/{n}/comments", "events_url": f"{r}/issues/{n}/events",
            "html_url": f"{self.urls.web}/{repo.full_name}/{'pull' if pr else 'issues'}/{n}",
            "id": item["id"], "node_id": node_id("Issue", item["id"]), "number": n,
            "title": item["title"], "user": self.user(item["user"]), "labels": self._item_labels(repo, item),
            "state": item["state"], "locked": item.get("locked", False),
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": None, "comments": self.world.comment_count(repo.id, n),
            "created_at": item["created_at"], "updated_at": item["updated_at"],
            "closed_at": item.get("closed_at"), "author_association": self.author_association(repo, item["user"]),
            "active_lock_reason": None, "body": item.get("body"),
            "closed_by": self.user(item.get("closed_by")) if item["state"] == "closed" else None,
            "timeline_url": f"{r}/issues/{n}/timeline", "performed_via_github_app": None,
            "state_reason": item.get("state_reason"),
            "reactions": self._reactions(f"{r}/issues/{n}/reactions"),
        }
        if pr is not None:
            out["draft"] = pr.get("draft", False)
            out["pull_request"] = {
                "url": f"{r}/pulls/{n}", "html_url": f"{self.urls.web}/{repo.full_name}/pull/{n}",
                "diff_url": f"{self.urls.web}/{repo.full_name}/pull/{n}.diff",
                "patch_url": f"{self.urls.web}/{repo.full_name}/pull/{n}.patch",
                "merged_at": pr.get("merged_at"),
            }
        return out

    @staticmethod
    def _reactions(url: str) -> dict:
        return {"url": url, "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}

    def _branch(self, repo_id: int | None, ref: str, sha: str, fallback: Repo) -> dict:
        repo = self.world.repos.get(repo_id) if repo_id is not None else None
        owner = (repo or fallback).data["owner"]
        return {
            "label": f"{owner}:{ref}", "ref": ref, "sha": sha,
            "user": self.user(owner), "repo": self.repo(repo) if repo is not None else None,
        }

    def pull(self, repo: Repo, item: dict, *, full: bool = False) -> dict:
        r = self.urls.repo(repo.full_name)
        n = item["number"]
        pr = item["pull_request"]
        head_sha = _fake_sha(f"{repo.id}/{n}/head")
        assignees = [self.user(a) for a in item.get("assignees", [])]
        links = {
            "self": f"{r}/pulls/{n}", "html": f"{self.urls.web}/{repo.full_name}/pull/{n}",
            "issue": f"{r}/issues/{n}", "comments": f"{r}/issues/{n}/comments",
            "review_comments": f"{r}/pulls/{n}/comments", "review_comment": f"{r}/pulls/comments{{/number}}",
            "commits": f"{r}/pulls/{n}/commits", "statuses": f"{r}/statuses/{head_sha}",
        }
        out = {
            "url": links["self"], "id": pull_request_id(item["id"]),
            "node_id": node_id("PullRequest", pull_request_id(item["id"])),
            "html_url": links["html"], "diff_url": f"{links['html']}.diff", "patch_url": f"{links['html']}.patch",
            "issue_url": links["issue"], "commits_url": links["commits"],
            "review_comments_url": links["review_comments"], "review_comment_url": links["review_comment"],
            "comments_url": links["comments"], "statuses_url": links["statuses"], "number": n,
            "state": item["state"], "locked": item.get("locked", False), "title": item["title"],
            "user": self.user(item["user"]), "body": item.get("body"), "labels": self._item_labels(repo, item),
            "milestone": None, "active_lock_reason": None, "created_at": item["created_at"],
            "updated_at": item["updated_at"], "closed_at": item.get("closed_at"),
            "merged_at": pr.get("merged_at"), "merge_commit_sha": pr.get("merge_commit_sha"),
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "requested_reviewers": [], "requested_teams": [],
            "head": self._branch(pr.get("head_repo_id"), pr["head_ref"], head_sha, repo),
            "base": self._branch(repo.id, pr["base_ref"], repo.data.get("head") or _fake_sha(f"{repo.id}/base"), repo),
            "_links": {k: {"href": v} for k, v in links.items()},
            "author_association": self.author_association(repo, item["user"]),
            "auto_merge": None, "draft": pr.get("draft", False),
        }
        if full:
            merged = pr.get("merged_at") is not None
            out.update({
                "merged": merged, "mergeable": None if item["state"] == "closed" else True,
                "rebaseable": None if item["state"] == "closed" else True,
                "mergeable_state": "unknown" if item["state"] == "closed" else "clean",
                "merged_by": self.user(pr.get("merged_by")) if merged else None,
                "comments": self.world.comment_count(repo.id, n), "review_comments": 0,
                "maintainer_can_modify": False, "commits": pr.get("commits", 1),
                "additions": pr.get("additions", 0), "deletions": pr.get("deletions", 0),
                "changed_files": pr.get("changed_files", 0),
            })
        return out

    def comment(self, repo: Repo, row: dict) -> dict:
        r = self.urls.repo(repo.full_name)
        return {
            "url": f"{r}/issues/comments/{row['id']}",
            "html_url": f"{self.urls.web}/{repo.full_name}/issues/{row['issue_number']}#issuecomment-{row['id']}",
            "issue_url": f"{r}/issues/{row['issue_number']}", "id": row["id"],
            "node_id": node_id("IssueComment", row["id"]), "user": self.user(row["user"]),
            "created_at": row["created_at"], "updated_at": row["updated_at"],
            "author_association": self.author_association(repo, row["user"]), "body": row["body"],
            "performed_via_github_app": None,
            "reactions": self._reactions(f"{r}/issues/comments/{row['id']}/reactions"),
        }

    def review(self, repo: Repo, row: dict) -> dict:
        r, n = self.urls.repo(repo.full_name), row["pull_number"]
        html = f"{self.urls.web}/{repo.full_name}/pull/{n}#pullrequestreview-{row['id']}"
        return {
            "id": row["id"], "node_id": node_id("PullRequestReview", row["id"]), "user": self.user(row["user"]),
            "body": row.get("body", ""), "state": row["state"], "html_url": html, "pull_request_url": f"{r}/pulls/{n}",
            "author_association": self.author_association(repo, row["user"]),
            "_links": {"html": {"href": html}, "pull_request": {"href": f"{r}/pulls/{n}"}},
            "submitted_at": row["submitted_at"], "commit_id": _fake_sha(f"{repo.id}/{n}/head"),
        }

    def review_comment(self, repo: Repo, row: dict) -> dict:
        r, n = self.urls.repo(repo.full_name), row["pull_number"]
        url, html = f"{r}/pulls/comments/{row['id']}", f"{self.urls.web}/{repo.full_name}/pull/{n}#discussion_r{row['id']}"
        head = _fake_sha(f"{repo.id}/{n}/head")
        out = {
            "url": url, "pull_request_review_id": row.get("review_id"), "id": row["id"],
            "node_id": node_id("PullRequestReviewComment", row["id"]), "diff_hunk": row.get("diff_hunk", "@@ -1 +1 @@"),
            "path": row["path"], "position": 1, "original_position": 1, "commit_id": head, "original_commit_id": head,
            "user": self.user(row["user"]), "body": row["body"], "created_at": row["created_at"],
            "updated_at": row["updated_at"], "html_url": html, "pull_request_url": f"{r}/pulls/{n}",
            "author_association": self.author_association(repo, row["user"]),
            "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": f"{r}/pulls/{n}"}},
            "start_line": None, "original_start_line": None, "start_side": None, "line": 1, "original_line": 1,
            "side": "RIGHT", "subject_type": "line", "reactions": self._reactions(f"{url}/reactions"),
        }
        if row.get("in_reply_to_id") is not None:
            out["in_reply_to_id"] = row["in_reply_to_id"]
        return out

    def event(self, repo: Repo, row: dict, *, with_issue: bool = True) -> dict:
        r = self.urls.repo(repo.full_name)
        commit_id = row.get("commit_id")
        out = {
            "id": row["id"], "node_id": node_id("IssueEvent", row["id"]), "url": f"{r}/issues/events/{row['id']}",
            "actor": self.actor(row.get("actor")), "event": row["event"], "commit_id": commit_id,
            "commit_url": f"{r}/commits/{commit_id}" if commit_id else None, "created_at": row["created_at"],
            "performed_via_github_app": None,
        }
        if "label" in row:
            label = self.world.label_for_item(repo, row["label"])
            out["label"] = {"name": row["label"], "color": (label or {}).get("color", "ededed")}
        if "assignee" in row:
            out["assignee"] = self.user(row["assignee"])
            out["assigner"] = self.user(row.get("actor"))
        if "source" in row:
            # Real GitHub shows cross-references only in the timeline; the simulator also keeps
            # the source here so one repository-wide read finds them (documented).
            src = self.world.repos.get(row["source"]["repo_id"])
            src_item = src.item(row["source"]["issue_number"]) if src else None
            if src_item is not None:
                out["source"] = {"type": "issue", "issue": self.issue(src, src_item)}
        if with_issue:
            item = repo.item(row["issue_number"])
            out["issue"] = self.issue(repo, item) if item is not None else None
        return out

    # -- git ---------------------------------------------------------------------------

    def file(self, repo: Repo, path: str, content: bytes) -> dict:
        """A file as GET /repos/{o}/{r}/contents/{path} answers it; sha is git's blob id."""
        sha = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        r, branch = self.urls.repo(repo.full_name), repo.data.get("default_branch", "main")
        html = f"{self.urls.web}/{repo.full_name}/blob/{branch}/{path}"
        git = f"{r}/git/blobs/{sha}"
        url = f"{r}/contents/{path}?ref={branch}"
        return {
            "type": "file", "encoding": "base64", "size": len(content), "name": path.rsplit("/", 1)[-1],
            "path": path, "content": base64.encodebytes(content).decode("ascii"), "sha": sha, "url": url,
            "git_url": git, "html_url": html,
            "download_url": f"{self.urls.web.replace('://', '://raw.', 1)}/{repo.full_name}/{branch}/{path}",
            "_links": {"self": url, "git": git, "html": html},
        }

    def commit(self, repo: Repo, c: dict) -> dict:
        r = self.urls.repo(repo.full_name)
        sha = c["sha"]
        person = {"name": c.get("author_name") or c.get("author") or "unknown",
                  "email": commit_email(c), "date": c["date"]}
        return {
            "url": f"{r}/commits/{sha}", "sha": sha, "node_id": node_id("Commit", sha),
            "html_url": f"{self.urls.web}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{r}/commits/{sha}/comments",
            "commit": {
                "url": f"{r}/git/commits/{sha}", "author": person, "committer": person,
                "message": c["message"], "comment_count": 0,
                "tree": {"sha": _fake_sha(f"tree/{sha}"), "url": f"{r}/git/trees/{_fake_sha(f'tree/{sha}')}"},
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None, "verified_at": None},
            },
            "author": self.user(c.get("author")), "committer": self.user(c.get("author")),
            "parents": [{"sha": p, "url": f"{r}/commits/{p}", "html_url": f"{self.urls.web}/{repo.full_name}/commit/{p}"}
                        for p in c.get("parents", [])],
        }

    def contributor(self, row: dict) -> dict:
        user = self.user(row["login"])
        return {**user, "contributions": row["contributions"]}


def commit_email(c: dict) -> str:
    """A world commit's author address; a world without addresses gives each author their own
    (GitHub's private form when linked), so that no two people share one by accident."""
    return c.get("author_email") or (f"{c['author']}@users.noreply.github.com" if c.get("author")
                                     else "unknown@example.invalid")


def _fake_sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
