"""The GitHub client's GraphQL side, for batch change detection (civicbot/harvest/batch.py).

GraphQL has its own endpoint and its own hourly budget, in points: a query is POSTed with the
REST client's token, retries and bounds (GitHubClient._request), and what it costs is counted
apart from REST's quota (`graphql_requests`, `graphql_points`, `graphql_quota`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import BadResponse, Unanswered


def graphql_url(base_url: str) -> str:
    """GitHub's GraphQL endpoint for a REST base_url: api.github.com/graphql, HOST/api/graphql on
    GitHub Enterprise (REST at HOST/api/v3), and {base}/graphql elsewhere (the simulator)."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path[: -len("/api/v3")] + "/api/graphql" if path.endswith("/api/v3") else path + "/graphql"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class GraphQLRequests:
    """GitHubClient's POST /graphql (a mixin: uses the client's config, _request, _sleep, _backoff,
    _raise_for and _parse; GitHubClient.__init__ sets the counters)."""

    graphql_requests: int  # POSTs sent, retries included
    graphql_points: int  # points spent, from the answers' rateLimit.cost (civicbot.harvest.batch.count_points)
    graphql_quota: Any  # a Quota: the hourly points budget, as the last answer reported it

    def graphql(self, query: str, variables: dict[str, Any]) -> Any:
        """POST a GraphQL query (to graphql_url(base_url), same token); returns the decoded answer,
        errors included (the caller reads them: GitHub answers most of them with a 200).

        A query only reads, so unlike other POSTs it is safe to send again: a lost answer
        (connection reset, timeout) is retried here, with backoff, `retry.total` times.
        """
        url, retry = graphql_url(self.config.github.base_url), self.config.github.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                status, headers, text = self._request(url, None, None, body={"query": query, "variables": variables})
                break
            except Unanswered:
                if attempt > retry.total:
                    raise
                self._sleep(self._backoff(attempt))
        if status != 200:
            self._raise_for(url, status, headers, text)
        body = self._parse(url, text)
        if not isinstance(body, dict):
            raise BadResponse(url, status, f"expected a JSON object, got {type(body).__name__}")
        return body

    def _record_points(self, remaining: int, reset: int | None, limit: int | None) -> None:
        """The GraphQL budget from an answer's rate-limit headers (x-ratelimit-resource: graphql)."""
        self.graphql_quota.remaining, self.graphql_quota.reset = remaining, reset
        self.graphql_quota.limit = limit if limit is not None else self.graphql_quota.limit
