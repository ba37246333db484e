"""The simulator's endpoints outside a repository: repository search, /rate_limit, /user, and an
account's repos (`/users/{login}`, `/users/{login}/repos`, `/orgs/{org}/repos`). A mixin of
civicbot.sandbox.app.Simulator, with the search it answers from."""

from __future__ import annotations

from .answers import Answer, ApiError, _choice, _link_header, _paging
from .quota import DEFAULT_LIMITS
from .world import Repo, World

MAX_SEARCH_RESULTS = 1000


class AccountRoutes:
    """Handlers not under a repo; needs the Simulator's world, quota and _page."""

    def get_search_repositories(self, request, base, renderer, caller) -> Answer:
        q = request.args.get("q", "").strip()
        if not q:
            raise ApiError(422, "Validation Failed", "https://docs.github.com/v3/search",
                           errors=[{"resource": "Search", "field": "q", "code": "missing"}])
        matches = search_repositories(self.world, q)
        per_page, page = _paging(request.args)
        if (page - 1) * per_page >= MAX_SEARCH_RESULTS:
            raise ApiError(422, "Only the first 1000 search results are available", "https://docs.github.com/v3/search/")
        total = len(matches)
        matches = matches[:MAX_SEARCH_RESULTS]
        window = matches[(page - 1) * per_page: page * per_page]
        items = [renderer.search_repo(r, score) for r, score in window]
        body = {"total_count": total, "incomplete_results": False, "items": items}
        return Answer(body, headers=_link_header(request, base, "/search/repositories", page, per_page, len(matches)))

    def get_rate_limit(self, request, base, renderer, caller) -> Answer:
        buckets = {res: self.quota.bucket(caller.identity, res, caller.limits[res]) for res in DEFAULT_LIMITS}
        shaped = {res: {"limit": b.limit, "remaining": b.remaining, "reset": b.reset, "used": b.used}
                  for res, b in buckets.items()}
        return Answer({"resources": shaped, "rate": shaped["core"]})

    def get_user(self, request, base, renderer, caller) -> Answer:
        if caller.login is None:
            raise ApiError(401, "Requires authentication", "https://docs.github.com/rest/users/users#get-the-authenticated-user")
        return Answer(renderer.authenticated_user(caller.login))

    def get_named_user(self, request, base, renderer, caller, username: str) -> Answer:
        """GitHub's public-user shape (PyGithub's `get_user(login)` fetches it before anything else)."""
        account = self.world.user(username)
        if account is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/users/users#get-a-user")
        created = account.get("created_at", "2020-01-01T00:00:00Z")
        public = sum(1 for r in self.world.repos.values() if r.data["owner"].lower() == account["login"].lower()
                     and r.status == "active" and not r.data.get("private"))
        return Answer({
            **renderer.user(account["login"]), "name": account.get("name"), "company": account.get("company"),
            "blog": "", "location": account.get("location"), "email": None, "hireable": None, "bio": None,
            "twitter_username": None, "public_repos": public, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": created, "updated_at": created,
        })

    def get_user_repos(self, request, base, renderer, caller, username: str) -> Answer:
        # GitHub answers for any account here, organizations included.
        doc = "https://docs.github.com/rest/repos/repos#list-repositories-for-a-user"
        account = self.world.user(username)
        if account is None:
            raise ApiError(404, "Not Found", doc)
        args = request.args
        kind = _choice(args, "type", ("owner", "all", "member"), "owner")
        rows = self._account_repos(account["login"], renderer, caller,
                                   owned=kind in ("owner", "all"), member=kind in ("member", "all"))
        return self._repo_list(request, base, renderer, rows, "full_name")

    def get_org_repos(self, request, base, renderer, caller, org: str) -> Answer:
        doc = "https://docs.github.com/rest/repos/repos#list-organization-repositories"
        account = self.world.user(org)
        if account is None or account.get("type") != "Organization":
            raise ApiError(404, "Not Found", doc)
        args = request.args
        kind = _choice(args, "type", ("all", "public", "private", "forks", "sources", "member"), "all")
        rows = self._account_repos(account["login"], renderer, caller, owned=True, member=False)
        if kind == "member":  # the org's repos the caller is a member of (simulated: merged a PR there)
            login = (caller.login or "").lower()
            rows = [r for r in rows if login and login in renderer._associations(r)[0]]
        elif kind != "all":
            keep = {"public": lambda r: not r.data.get("private"), "private": lambda r: bool(r.data.get("private")),
                    "forks": lambda r: r.data.get("fork_parent_id") is not None,
                    "sources": lambda r: r.data.get("fork_parent_id") is None}[kind]
            rows = [r for r in rows if keep(r)]
        return self._repo_list(request, base, renderer, rows, "created")

    def _account_repos(self, login: str, renderer, caller, *, owned: bool, member: bool) -> list[Repo]:
        """An account's repos (owned, and/or where it is a member), as the caller may see them:
        deleted and taken-down repos left out, private ones only for their owner's token."""
        key, me = login.lower(), (caller.login or "").lower()
        out = []
        for repo in self.world.repos.values():
            if repo.status != "active" or (repo.data.get("private") and me != repo.data["owner"].lower()):
                continue
            mine = repo.data["owner"].lower() == key
            if (owned and mine) or (member and not mine and key in renderer._associations(repo)[0]):
                out.append(repo)
        return out

    def _repo_list(self, request, base, renderer, rows: list[Repo], default_sort: str) -> Answer:
        args = request.args
        sort = _choice(args, "sort", ("created", "updated", "pushed", "full_name"), default_sort)
        # GitHub: direction defaults to asc for full_name, desc otherwise.
        direction = _choice(args, "direction", ("asc", "desc"), "asc" if sort == "full_name" else "desc")
        if sort == "full_name":
            rows.sort(key=lambda r: (r.full_name.lower(), r.id))
        else:
            field_name = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at"}[sort]
            rows.sort(key=lambda r: (r.data.get(field_name) or r.data["created_at"], r.id))
        if direction == "desc":
            rows.reverse()
        return self._page(request, base, rows, lambda r: renderer.repo(r, minimal=True), None)


def search_repositories(world: World, q: str) -> list[tuple[Repo, float]]:
    """The documented subset of GitHub's repository search: words, fork:, topic:, in:, user:/org:, archived:."""
    words, fork, topics, fields, owners, archived = [], "false", [], ["name", "description"], [], None
    for token in q.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and key == "fork":
            fork = value.lower()
        elif sep and key == "topic":
            topics.append(value.lower())
        elif sep and key == "in":
            fields = [f.strip().lower() for f in value.split(",") if f.strip()]
        elif sep and key in ("user", "org"):
            owners.append(value.lower())
        elif sep and key == "archived":
            archived = value.lower() == "true"
        else:
            words.append(token.strip('"').lower())
    out = []
    for repo in world.repos.values():
        d = repo.data
        if repo.status != "active" or d.get("private"):
            continue
        is_fork = d.get("fork_parent_id") is not None
        if (fork == "false" and is_fork) or (fork == "only" and not is_fork):
            continue
        if topics and not set(topics) <= {t.lower() for t in d.get("topics", [])}:
            continue
        if owners and d["owner"].lower() not in owners:
            continue
        if archived is not None and d.get("archived", False) != archived:
            continue
        texts = {"name": d["name"], "description": d.get("description") or "", "readme": d.get("readme") or ""}
        haystack = " ".join(texts.get(f, "") for f in fields).lower()
        hits = [haystack.count(w) for w in words]
        if all(hits):
            out.append((repo, float(sum(hits)) + 1.0))
    out.sort(key=lambda x: (-x[1], -x[0].data.get("stargazers_count", 0), x[0].id))
    return out
