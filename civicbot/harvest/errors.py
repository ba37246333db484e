"""What a request to GitHub can end in, short of an answer to read: the errors GitHubClient
(civicbot/harvest/client.py) and its GraphQL side (civicbot/harvest/graphql_client.py) raise."""

from __future__ import annotations


class HarvestHTTPError(Exception):
    """Base of the harvester's HTTP errors: `path` asked, HTTP `status` (0 when there was no answer)."""

    def __init__(self, path: str, status: int, message: str):
        self.path = path
        self.status = status
        self.github_message = message
        super().__init__(f"GET {path}: {status}: {message}" if status else f"GET {path}: {message}")


class NotFound(HarvestHTTPError):
    """404: the repo (or object) does not exist, was deleted, or is private to another account."""


class Gone(HarvestHTTPError):
    """410: the resource was removed for good (e.g. issues disabled)."""


class TakenDown(Gone):
    """451: unavailable for legal reasons (a DMCA takedown)."""


class RepoMoved(HarvestHTTPError):
    """A 301 that PyGithub would not follow; `location` is where it pointed (may be None)."""

    def __init__(self, path: str, status: int, message: str, location: str | None = None):
        super().__init__(path, status, message)
        self.location = location


class RateLimited(HarvestHTTPError):
    """The quota is out and its reset (`reset`, epoch seconds, may be None) is beyond the max wait."""

    def __init__(self, path: str, status: int, message: str, reset: int | None = None, wait: float | None = None):
        super().__init__(path, status, message)
        self.reset = reset
        self.wait = wait


class TransientError(HarvestHTTPError):
    """5xx, connection reset, timeout or truncated body that persisted after the retries."""


class Unanswered(TransientError):
    """No HTTP answer at all after the retries (connection refused, unknown host, timeout)."""


class BadResponse(TransientError):
    """The answer is not the JSON shape expected (invalid JSON, an HTML page, an object where a list
    belongs, a negative Retry-After...). A TransientError: that repo fails, the run goes on."""


class Refused(TransientError):
    """A request or answer this client will not follow or read; the repo fails with this reason."""


class OriginRefused(Refused):
    """A Link, redirect or request that would leave base_url's scheme, host and port."""


class LimitExceeded(Refused):
    """An answer past a bound: github.max_body_mb, total_timeout, max_pages, max_redirects, a link loop."""


class TokenRefused(HarvestHTTPError):
    """401: the token was refused. Not a repo's failure: the run stops (docs/harvest.md, exit 77)."""

    def __init__(self, path: str, status: int = 401, message: str = ""):
        super().__init__(path, status, "the token was refused (HTTP 401): check github.token_env / token_file"
                         + (f" ({message})" if message and message != "HTTP 401" else ""))
