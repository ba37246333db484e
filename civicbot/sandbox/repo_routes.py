"""The simulator's endpoints under a repository (`/repos/{owner}/{repo}/...` and
`/repositories/{id}/...`): issues, pulls, comments, events, labels, forks, contributors,
languages, commits, compare and contents. A mixin of civicbot.sandbox.app.Simulator."""

from __future__ import annotations

from .answers import (
    Answer,
    ApiError,
    _api_path,
    _choice,
    _item,
    _json_body,
    _link_header,
    _network_root,
    _paging,
    _since,
    _sorted,
)
from .world import Repo


class RepoRoutes:
    """GET/POST/DELETE handlers for one repo; needs the Simulator's world, _page, _view and _check_write."""

    def get_repo(self, request, base, renderer, caller, repo: Repo) -> Answer:
        return Answer(renderer.repo(repo, full=True), last_modified=repo.data.get("updated_at", repo.data["created_at"]))

    def get_issues(self, request, base, renderer, caller, repo: Repo) -> Answer:
        args = request.args
        state = _choice(args, "state", ("open", "closed", "all"), "open")
        sort = _choice(args, "sort", ("created", "updated", "comments"), "created")
        direction = _choice(args, "direction", ("asc", "desc"), "desc")
        since = _since(args)
        labels = [x.strip().lower() for x in args.get("labels", "").split(",") if x.strip()]

        def build():
            rows = [i for i in repo.items if (state == "all" or i["state"] == state)
                    and (since is None or i["updated_at"] >= since)
                    and all(x in {n.lower() for n in i.get("labels", [])} for x in labels)]
            return _sorted(rows, sort, direction, self.world)

        rows = self._view(repo, ("issues", state, sort, direction, since, tuple(labels)), build)
        return self._page(request, base, rows, lambda i: renderer.issue(repo, i), repo)

    def get_issue(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        return Answer(renderer.issue(repo, item), last_modified=item["updated_at"])

    def get_pulls(self, request, base, renderer, caller, repo: Repo) -> Answer:
        args = request.args
        state = _choice(args, "state", ("open", "closed", "all"), "open")
        sort = _choice(args, "sort", ("created", "updated", "popularity", "long-running"), "created")
        # GitHub: direction defaults to desc for sort=created (or no sort), asc otherwise.
        direction = _choice(args, "direction", ("asc", "desc"), "desc" if sort == "created" else "asc")
        base_ref = args.get("base")

        def build():
            rows = [i for i in repo.items if i.get("pull_request") is not None
                    and (state == "all" or i["state"] == state)
                    and (base_ref is None or i["pull_request"]["base_ref"] == base_ref)]
            return _sorted(rows, {"popularity": "comments", "long-running": "created"}.get(sort, sort), direction, self.world)

        rows = self._view(repo, ("pulls", state, sort, direction, base_ref), build)
        return self._page(request, base, rows, lambda i: renderer.pull(repo, i), repo)

    def get_pull(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        if item.get("pull_request") is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
        return Answer(renderer.pull(repo, item, full=True), last_modified=item["updated_at"])

    def get_review_comments(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = self._comment_list(request, repo, "review_comments", ("created", "updated", "created_at"))
        return self._page(request, base, rows, lambda c: renderer.review_comment(repo, c), repo)

    def get_pull_reviews(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        if item.get("pull_request") is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request")
        rows = [r for r in repo.reviews if r["pull_number"] == number]  # oldest first, as GitHub lists them
        return self._page(request, base, rows, lambda r: renderer.review(repo, r), repo)

    def get_repo_comments(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = self._comment_list(request, repo, "comments", ("created", "updated"))
        return self._page(request, base, rows, lambda c: renderer.comment(repo, c), repo)

    def _comment_list(self, request, repo: Repo, kind: str, sorts: tuple[str, ...]) -> list[dict]:
        """A repository-wide comment list (`kind`: comments, review_comments), filtered and ordered
        by `since`, `sort` and `direction` as GitHub does (created: id order)."""
        args = request.args
        sort = _choice(args, "sort", sorts, "created")
        direction = _choice(args, "direction", ("asc", "desc"), "asc")
        since = _since(args)

        def build():
            rows = [c for c in getattr(repo, kind) if since is None or c["updated_at"] >= since]
            if sort == "updated":
                rows.sort(key=lambda c: (c["updated_at"], c["id"]))
            return rows[::-1] if direction == "desc" else rows

        return self._view(repo, (kind, sort, direction, since), build)

    def get_issue_comments(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        _item(repo, number)
        since = _since(request.args)
        rows = [c for c in repo.comments if c["issue_number"] == number and (since is None or c["updated_at"] >= since)]
        return self._page(request, base, rows, lambda c: renderer.comment(repo, c), repo)

    def get_repo_events(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = self._view(repo, ("events",), lambda: repo.events[::-1])  # newest first, like GitHub
        return self._page(request, base, rows, lambda e: renderer.event(repo, e), repo)

    def get_repo_event(self, request, base, renderer, caller, repo: Repo, event_id: int) -> Answer:
        row = next((e for e in repo.events if e["id"] == event_id), None)
        if row is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/issues/events#get-an-issue-event")
        return Answer(renderer.event(repo, row), last_modified=row["created_at"])

    def get_issue_events(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        _item(repo, number)
        rows = [e for e in repo.events if e["issue_number"] == number]
        return self._page(request, base, rows, lambda e: renderer.event(repo, e, with_issue=False), repo)

    def get_labels(self, request, base, renderer, caller, repo: Repo) -> Answer:
        return self._page(request, base, list(repo.data.get("labels", [])), lambda x: renderer.label(repo, x), repo)

    def get_issue_labels(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        rows = renderer._item_labels(repo, item)
        return self._page(request, base, rows, lambda x: x, repo)

    def post_issue_labels(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        self._check_write(caller, repo)
        item = _item(repo, number)
        payload = _json_body(request)
        names = payload.get("labels") if isinstance(payload, dict) else payload
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ApiError(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an array.",
                           "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue")
        self.world.add_labels(repo, item, [n.strip() for n in names], caller.login)
        return Answer(renderer._item_labels(repo, item))

    def delete_issue_label(self, request, base, renderer, caller, repo: Repo, number: int, label: str) -> Answer:
        self._check_write(caller, repo)
        item = _item(repo, number)
        if not self.world.remove_label(repo, item, label, caller.login):
            raise ApiError(404, "Label does not exist", "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
        return Answer(renderer._item_labels(repo, item))

    def post_issue_comments(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        self._check_write(caller, repo)
        item = _item(repo, number)
        payload = _json_body(request)
        body = payload.get("body") if isinstance(payload, dict) else None
        if not isinstance(body, str) or not body.strip():
            raise ApiError(422, "Invalid request.\n\n\"body\" wasn't supplied.",
                           "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
        comment = self.world.add_comment(repo, item, body, caller.login)
        rendered = renderer.comment(repo, comment)
        return Answer(rendered, 201, {"Location": rendered["url"]})

    def get_forks(self, request, base, renderer, caller, repo: Repo) -> Answer:
        sort = _choice(request.args, "sort", ("newest", "oldest", "stargazers", "watchers"), "newest", status=400)
        rows = [f for f in repo.forks if f.status == "active" and not f.data.get("private")]
        if sort in ("newest", "oldest"):
            rows.sort(key=lambda f: (f.data["created_at"], f.id), reverse=sort == "newest")
        else:
            rows.sort(key=lambda f: (-f.data.get("stargazers_count", 0), f.id))
        return self._page(request, base, rows, lambda f: renderer.repo(f, minimal=True), repo)

    def get_contributors(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = sorted(repo.data.get("contributors", []), key=lambda c: -c["contributions"])
        if not rows:
            return Answer(None, 204)
        rows = [r for r in rows if self.world.user(r["login"]) is not None][:500]  # GitHub lists the top 500
        return self._page(request, base, rows, renderer.contributor, repo)

    def get_languages(self, request, base, renderer, caller, repo: Repo) -> Answer:
        # One object, not a list: language -> bytes, largest first (an empty repo: {}).
        languages = repo.data.get("languages", {})
        return Answer(dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))))

    def get_commits(self, request, base, renderer, caller, repo: Repo) -> Answer:
        head = repo.data.get("head")
        if head is None:
            raise ApiError(409, "Git Repository is empty.", "https://docs.github.com/rest/commits/commits#list-commits")
        ref = request.args.get("sha")
        if ref and ref != repo.data.get("default_branch", "main"):
            if ref not in self.world.commits or ref not in self.world.ancestors(head):
                raise ApiError(404, "No commit found for SHA: " + ref, "https://docs.github.com/rest/commits/commits#list-commits")
            head = ref
        since, until = _since(request.args), _since(request.args, "until")
        rows = [c for c in self.world.history(head)
                if (since is None or c["date"] >= since) and (until is None or c["date"] <= until)]
        return self._page(request, base, rows, lambda c: renderer.commit(repo, c), repo)

    def get_compare(self, request, base, renderer, caller, repo: Repo, basehead: str) -> Answer:
        if "..." not in basehead:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")
        base_ref, head_ref = basehead.split("...", 1)
        base_sha, head_sha = self._ref(repo, base_ref), self._ref(repo, head_ref)
        base_anc, head_anc = self.world.ancestors(base_sha), self.world.ancestors(head_sha)
        common = base_anc & head_anc
        if not common:
            raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.",
                           "https://docs.github.com/rest/commits/commits#compare-two-commits")
        ahead = [c for c in self.world.history(head_sha) if c["sha"] not in base_anc]
        behind = [c for c in self.world.history(base_sha) if c["sha"] not in head_anc]
        merge_base = next(c for c in self.world.history(head_sha) if c["sha"] in common)
        status = ("identical" if not ahead and not behind else "ahead" if not behind
                  else "behind" if not ahead else "diverged")
        r, web = renderer.urls.repo(repo.full_name), f"{renderer.urls.web}/{repo.full_name}"
        body = {
            "url": f"{r}/compare/{basehead}", "html_url": f"{web}/compare/{basehead}",
            "permalink_url": f"{web}/compare/{base_sha}...{head_sha}",
            "diff_url": f"{web}/compare/{basehead}.diff", "patch_url": f"{web}/compare/{basehead}.patch",
            "base_commit": renderer.commit(repo, self.world.commits[base_sha]),
            "merge_base_commit": renderer.commit(repo, merge_base),
            "status": status, "ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
            "commits": [renderer.commit(repo, c) for c in reversed(ahead[:250])], "files": [],
        }
        headers = {}
        if "per_page" in request.args or "page" in request.args:
            # Paginated, GitHub lists the commits in chronological order: page 1 holds the oldest.
            per_page, page = _paging(request.args)
            oldest_first = list(reversed(ahead))
            body["commits"] = [renderer.commit(repo, c) for c in oldest_first[(page - 1) * per_page: page * per_page]]
            headers = _link_header(request, base, _api_path(request.path)[0], page, per_page, len(ahead))
        return Answer(body, headers=headers, last_modified=repo.modified)

    def get_contents(self, request, base, renderer, caller, repo: Repo, path: str) -> Answer:
        """A file of the default branch, as GitHub's JSON with base64 content (the default media type)."""
        text = (repo.data.get("files") or {}).get(path)
        if text is None or repo.data.get("head") is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/repos/contents#get-repository-content")
        return Answer(renderer.file(repo, path, text.encode("utf-8")))

    def _ref(self, repo: Repo, ref: str) -> str:
        """A compare side: a sha, a branch of this repo, or OWNER:branch of a repo in its network."""
        not_found = ApiError(404, "Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")
        if ":" in ref:
            owner, _, branch = ref.partition(":")
            if ":" in branch:  # owner:repo:branch
                name, _, branch = branch.partition(":")
                target, _ = self.world.repo_by_name(owner, name)
            else:
                network = _network_root(self.world, repo)
                target = next((r for r in self.world.repos.values() if r.data["owner"].lower() == owner.lower()
                               and _network_root(self.world, r) is network), None)
            if target is None or target.status != "active" or target.data.get("head") is None:
                raise not_found
            if branch != target.data.get("default_branch", "main"):
                raise not_found
            return target.data["head"]
        if ref == repo.data.get("default_branch", "main") and repo.data.get("head"):
            return repo.data["head"]
        if ref in self.world.commits:
            return ref
        raise not_found
