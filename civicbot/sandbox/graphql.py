"""The simulator's GraphQL endpoint (`POST /graphql`): GitHub's schema, limits, points and errors.

Every query is parsed and validated against GitHub's published schema (npm
@octokit/graphql-schema), checked against GitHub's node limits, charged GitHub's points, then
executed over the world by the objects of graphql_nodes.py. docs/simulator.md describes it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_named_type,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

from .graphql_nodes import Context, RateLimit, Root
from .quota import user_id

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "node_modules" / "@octokit" / "graphql-schema" / "schema.graphql"
DOCS = "https://docs.github.com/graphql"
# GitHub's node limits: https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api
MAX_PAGE = 100
MAX_NODES = 500_000
MAX_IDS = 100

_schemas: dict[Path, GraphQLSchema] = {}
_schema_lock = threading.Lock()


class SchemaMissing(RuntimeError):
    """GitHub's schema file is not installed; the message says what to run."""


def github_schema(path: Path = SCHEMA_PATH) -> GraphQLSchema:
    """GitHub's GraphQL schema, built once per process (it takes about a second)."""
    with _schema_lock:
        if path not in _schemas:
            if not path.exists():
                raise SchemaMissing(f"{path} is missing: run `npm install` in the civicbot checkout "
                                    "(the simulator's /graphql reads GitHub's schema from @octokit/graphql-schema)")
            # GitHub's published SDL fails graphql-core's own schema checks (a field defined twice,
            # deprecations interfaces lack): it is the schema GitHub serves, so it is taken as valid.
            _schemas[path] = build_schema(path.read_text(encoding="utf-8"), assume_valid_sdl=True, assume_valid=True)
        return _schemas[path]


class LimitError(Exception):
    """A query GitHub refuses before running it (node limits): one error, no data."""

    def __init__(self, kind: str, message: str, node: FieldNode, path: list[str]):
        super().__init__(message)
        loc = node.loc.source.get_location(node.loc.start) if node.loc else None
        self.body = {"type": kind, "path": path, "message": message,
                     "locations": [{"line": loc.line, "column": loc.column}] if loc else []}


class QueryCost:
    """GitHub's cost rule: every connection needs one request per parent element (assuming
    each reaches its first/last); points = requests / 100, rounded, at least 1. `nodes(ids:)`
    counts as one request whose elements are the ids. The node count is the elements asked."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: dict):
        defaults = {d.variable.name.value: value_from_ast_untyped(d.default_value)
                    for d in operation.variable_definitions or () if d.default_value is not None}
        self.schema, self.variables = schema, {**defaults, **variables}
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.requests = self.nodes = 0
        self.dry_run = False
        root = schema.get_root_type(operation.operation)
        self._walk(operation.selection_set, root, 1, [])

    @property
    def points(self) -> int:
        return max(1, int(self.requests / 100 + 0.5))

    def _walk(self, selection_set, parent, multiplier: int, path: list[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                kind = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                self._walk(selection.selection_set, kind, multiplier, path)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                self._walk(fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value),
                           multiplier, path)
            elif isinstance(selection, FieldNode) and not selection.name.value.startswith("__"):
                self._field(selection, parent, multiplier, path)

    def _field(self, node: FieldNode, parent, multiplier: int, path: list[str]) -> None:
        name = node.name.value
        here = path + [node.alias.value if node.alias else name]
        field = parent.fields[name]
        kind = get_named_type(field.type)
        args = {a.name.value: value_from_ast_untyped(a.value, self.variables) for a in node.arguments or ()}
        if name == "rateLimit" and args.get("dryRun"):
            self.dry_run = True
        if kind.name.endswith("Connection") and "first" in field.args:
            size = args.get("first") if args.get("first") is not None else args.get("last")
            if size is not None and not isinstance(size, int):
                size = MAX_PAGE  # a variable of the wrong type: execution reports it, with no data
            if size is None:
                raise LimitError("MISSING_PAGINATION_BOUNDARIES", f"You must provide a `first` or `last` value to "
                                 f"properly paginate the `{name}` connection.", node, here)
            if not 1 <= size <= MAX_PAGE:
                which = "first" if args.get("first") is not None else "last"
                raise LimitError("EXCESSIVE_PAGINATION", f"Requesting {size} records on the `{name}` connection "
                                 f"exceeds the `{which}` limit of {MAX_PAGE} records.", node, here)
            self.requests += multiplier
            multiplier *= size
            self.nodes += multiplier
        elif "ids" in field.args:
            ids = args.get("ids") if isinstance(args.get("ids"), list) else []  # else: execution reports it
            if len(ids) > MAX_IDS:
                raise LimitError("EXCESSIVE_PAGINATION", f"You may not request more than {MAX_IDS} node ids; "
                                 f"you requested {len(ids)}.", node, here)
            self.requests += multiplier
            multiplier *= max(1, len(ids))
            self.nodes += multiplier
        if self.nodes > MAX_NODES:
            raise LimitError("MAX_NODE_LIMIT_EXCEEDED", f"This query requests up to {self.nodes:,} possible nodes "
                             f"which exceeds the maximum limit of {MAX_NODES:,}.", node, here)
        if node.selection_set is not None:
            self._walk(node.selection_set, kind, multiplier, here)


def _resolve(source: Any, info, **args: Any) -> Any:
    """Each field from the object's attribute or method of the same name; a field the simulator
    does not model is an error on its path, never an invented value."""
    value = getattr(source, info.field_name, _resolve)
    if value is _resolve:
        raise GraphQLError(f"The simulator does not serve {info.parent_type.name}.{info.field_name}.")
    return value(info, **args) if callable(value) else value


def _type_of(value: Any, info, abstract_type) -> str:
    return value.typename


def _error(error: GraphQLError) -> dict:
    """GitHub's error shape: `type` beside message/locations/path, not inside extensions."""
    out = dict(error.formatted)
    extensions = out.pop("extensions", None) or {}
    if "type" in extensions:
        out = {"type": extensions["type"], **out}
    return out


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphQLEndpoint:
    """Answers POST /graphql for a simulator: (status, body, headers) and the log entry filled."""

    def __init__(self, simulator, schema_path: Path = SCHEMA_PATH):
        self.sim = simulator
        self.schema_path = schema_path

    def answer(self, body: Any, caller, entry: dict, *, partial: bool = False) -> tuple[int, dict, dict]:
        if caller.login is None:
            return 401, {"message": "This endpoint requires you to be authenticated.",
                         "documentation_url": f"{DOCS}/guides/forming-calls-with-graphql#authenticating-with-graphql",
                         "status": "401"}, {}
        quota = self.sim.quota
        bucket = quota.bucket(caller.identity, "graphql", caller.limits["graphql"])
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}, \
                bucket.headers("graphql")
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return 200, {"errors": [{"message": "Variables are invalid JSON."}]}, bucket.headers("graphql")
        schema = github_schema(self.schema_path)
        try:
            document = parse(body["query"])
        except GraphQLError as exc:
            return 200, {"errors": [_error(exc)]}, bucket.headers("graphql")
        errors = validate(schema, document)
        if errors:
            return 200, {"errors": [_error(e) for e in errors]}, bucket.headers("graphql")
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        name = body.get("operationName")
        operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
        if operation is None or (name is None and len(operations) > 1):
            return 200, {"errors": [{"message": "An operation name is required" if operation else
                                     f"No operation named \"{name}\""}]}, bucket.headers("graphql")
        try:
            cost = QueryCost(schema, document, operation, variables)
        except LimitError as exc:
            return 200, {"errors": [exc.body]}, bucket.headers("graphql")
        points = cost.points
        if bucket.remaining < points:
            return 200, {"errors": [{"type": "RATE_LIMITED",
                                     "message": f"API rate limit exceeded for user ID {user_id(caller.login)}."}]}, \
                bucket.headers("graphql")
        spent = 0 if cost.dry_run else points
        # rateLimit shows the budget after this query, as GitHub's does.
        rate = RateLimit(limit=bucket.limit, cost=points, remaining=bucket.remaining - spent,
                         resetAt=_iso(bucket.reset), used=bucket.used + spent, nodeCount=cost.nodes)
        context = Context(self.sim.world, caller.login, rate)
        result = execute(schema, document, Root(context), context, variables, name,
                         field_resolver=_resolve, type_resolver=_type_of)
        if result.data is not None and spent:  # variables it could not take: refused, nothing run
            quota.spend(bucket, spent)
            entry["points"] = spent
        out: dict = {"data": result.data}
        errors = [_error(e) for e in result.errors or []]
        if partial and result.data:
            errors += _break_nodes(result.data)
        if errors:
            out["errors"] = errors
        if result.data is None:
            del out["data"]  # variables GitHub could not take: errors only
        return 200, out, bucket.headers("graphql")


def _break_nodes(data: dict) -> list[dict]:
    """The `partial` fault: every second entry of each top-level list (nodes) fails as GitHub's
    do under load: null, with an error on its path."""
    errors = []
    for key, value in data.items():
        if isinstance(value, list):
            for i in range(1, len(value), 2):
                value[i] = None
                errors.append({"type": "SERVICE_UNAVAILABLE", "path": [key, i], "locations": [],
                               "message": "Something went wrong while executing your query. This may be the result "
                                          "of a timeout, or it could be a GitHub bug."})
    return errors
