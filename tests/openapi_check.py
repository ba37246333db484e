"""Check HTTP responses against GitHub's official OpenAPI description.

The description is the one bundled by the npm package ``@octokit/openapi``
(``node_modules/@octokit/openapi/generated/api.github.com.json``, OpenAPI
3.0.3, with ``$ref``\\s).  It is loaded once per process; the 73 MB
``*.deref.json`` variant is never touched: ``$ref``\\s are resolved lazily
against the whole document with the ``referencing`` library.

Public API
----------

``SPEC_PATH``
    Where the description is expected.
``spec_available() -> bool`` / ``SPEC_MISSING_REASON``
    Whether it is there, and the human-readable reason to skip if not.
``skip_if_spec_missing()``
    Call from a test or fixture: ``pytest.skip`` with a clear reason when the
    npm packages are not installed.  ``requires_spec`` is the equivalent
    ``pytest.mark.skipif`` marker.
``load_spec() -> dict``
    The parsed description (``functools.lru_cache``\\d).  Raises
    ``SpecUnavailable`` (a ``FileNotFoundError``) when it is missing.
``find_operation(method, path) -> OperationMatch``
    Map a concrete request path (query string, scheme and host are ignored)
    to ``(template, operation)``.  See its docstring for the matching rules
    and for ``/repositories/{id}``.
``validate_response(method, path, status, body_json, headers=None, *, ignore=()) -> list[str]``
    Human-readable conformance errors, empty when the response conforms.
``validate_schema(name_or_pointer, instance) -> list[str]``
    Validate a value against one schema of the description, e.g.
    ``validate_schema("basic-error", body)``.
``validate_requests_response(resp, method=None, path=None, *, ignore=()) -> list[str]``
    Same, taking a ``requests.Response`` (method and path come from
    ``resp.request``; the body is parsed as JSON when there is one).
``NO_BODY``
    Pass as ``body_json`` for a response without a body (``None`` is treated
    the same way, see ``validate_response``).

Validation semantics
--------------------

* Bodies are validated with ``openapi_schema_validator.OAS30Validator``
  semantics (``nullable``, OpenAPI ``type`` handling, ``discriminator``)
  plus one deliberate extension: a schema carrying ``nullable: true`` accepts
  ``null`` even when it has no ``type`` of its own (``{"nullable": true,
  "allOf": [{"$ref": ...}]}``).  OpenAPI 3.0.3 says ``nullable`` is only
  meaningful next to ``type``, but GitHub's description uses this pattern
  ~130 times (e.g. ``installation.account``) with the obvious intent that
  ``null`` is allowed; without the extension real GitHub responses fail.
  Likewise ``nullable: true`` next to an ``enum`` that does not list
  ``null`` accepts ``null`` (71 such schemas, e.g. ``issue.state_reason``,
  which real GitHub returns as ``null`` for every open issue; the other 79
  nullable enums list ``null`` explicitly).
* Formats checked: those ``openapi_schema_validator`` checks for OAS 3.0
  (``date-time`` per RFC 3339, ``date``, ``int32``/``int64``, ``email``, ...)
  plus ``uri`` (loosely: must be an absolute URI, i.e. have a scheme).
  ``uri-template`` is not checked.
* ``additionalProperties`` is whatever the description says (GitHub almost
  never sets it), so extra fields are allowed; missing ``required`` fields,
  wrong types and ``null``\\s where not nullable are errors.
* The status is looked up as ``"404"``, then ``"4XX"``, then ``"default"``
  (GitHub's description currently has no ``default`` responses).  A status
  the operation does not document is itself an error.
* A documented response without ``content`` (204, 304, ...) must have no
  body; a documented JSON response must have one.
* Headers (only when ``headers`` is given; names are case-insensitive):
  a documented header with ``required: true`` must be present (GitHub's
  description marks none as required today); a documented header that *is*
  present must match its schema (``X-RateLimit-*`` integers, ...), and a
  ``Link`` header must parse as RFC 8288 ``<uri>; rel="..."`` entries with a
  known pagination relation.  Two loose HTTP checks are added and tagged
  ``[http]``: a JSON body must come with a JSON ``Content-Type``, and a
  301/302/303/307/308 must carry ``Location``.

Every error names the JSON path of the offending value (``$`` is the body
root, e.g. ``$[2].user.login``) or the header.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote, urlsplit

SPEC_PATH = (
    Path(__file__).resolve().parents[1]
    / "node_modules/@octokit/openapi/generated/api.github.com.json"
)
SPEC_URI = "urn:civicbot:github-openapi:api.github.com.json"
SPEC_MISSING_REASON = (
    f"GitHub's OpenAPI description is not installed ({SPEC_PATH} is missing); "
    "run `npm install` (package @octokit/openapi) at the repository root"
)

#: Pass as ``body_json`` when the response has no body.
NO_BODY = type("NoBody", (), {"__repr__": lambda self: "NO_BODY"})()

#: Stop listing errors for one response after this many.
MAX_ERRORS = 50


class SpecUnavailable(FileNotFoundError):
    """The OpenAPI description file is not installed."""


class OperationNotFound(LookupError):
    """No operation of the description matches the request."""


# --------------------------------------------------------------------- loading


def spec_available() -> bool:
    return SPEC_PATH.is_file()


def skip_if_spec_missing() -> None:
    """``pytest.skip`` (with the reason) when the description is missing."""
    if not spec_available():
        import pytest

        pytest.skip(SPEC_MISSING_REASON)


def _requires_spec_marker():
    import pytest

    return pytest.mark.skipif(not spec_available(), reason=SPEC_MISSING_REASON)


def __getattr__(name: str):  # lazily built so importing needs no pytest
    if name == "requires_spec":
        return _requires_spec_marker()
    raise AttributeError(name)


@functools.lru_cache(maxsize=None)
def load_spec() -> dict:
    """The parsed description (cached for the life of the process)."""
    if not spec_available():
        raise SpecUnavailable(SPEC_MISSING_REASON)
    with SPEC_PATH.open("rb") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=None)
def _registry():
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    # OAS 3.0 schema objects are a draft-4 dialect; the whole description is
    # one resource so that "#/components/..." resolves against it.
    return Registry().with_resource(SPEC_URI, DRAFT4.create_resource(load_spec()))


# ------------------------------------------------------------ path matching

_PARAM_RE = re.compile(r"\{([^}/]+)\}")
_REPOSITORIES_ID_RE = re.compile(r"^/repositories/(\d+)(/.*)?$")
_SLASHY_PARAMS = frozenset({"path", "ref", "branch"})


class OperationMatch(tuple):
    """``(template, operation)``; ``.note`` explains any aliasing applied."""

    __slots__ = ()

    def __new__(cls, template: str, operation: dict, note: str | None = None):
        return super().__new__(cls, (template, operation, note))

    def __iter__(self):  # unpacks as a pair: template, operation = match
        return iter(tuple.__getitem__(self, slice(0, 2)))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return tuple.__getitem__(self, slice(0, 2))[i]

    def __repr__(self):
        return f"OperationMatch({self.template!r}, note={self.note!r})"

    template = property(lambda self: tuple.__getitem__(self, 0))
    operation = property(lambda self: tuple.__getitem__(self, 1))
    note = property(lambda self: tuple.__getitem__(self, 2))


def _segment_matcher(seg: str):
    """``None`` for a whole-segment parameter, a str for a literal segment,
    a compiled regex for mixed segments such as ``{name}.json``."""
    if not _PARAM_RE.search(seg):
        return seg
    if _PARAM_RE.fullmatch(seg):
        return None
    parts, pos = [], 0
    for m in _PARAM_RE.finditer(seg):
        parts.append(re.escape(seg[pos : m.start()]))
        parts.append(r"[^/]+?")
        pos = m.end()
    parts.append(re.escape(seg[pos:]))
    return re.compile("".join(parts))


@functools.lru_cache(maxsize=None)
def _path_index() -> dict[int, list[tuple[str, tuple]]]:
    index: dict[int, list[tuple[str, tuple]]] = {}
    for template in load_spec()["paths"]:
        segs = tuple(_segment_matcher(s) for s in template.strip("/").split("/"))
        index.setdefault(len(segs), []).append((template, segs))
    return index


def _split_path(path: str) -> list[str]:
    parts = urlsplit(path)
    p = parts.path if (parts.scheme or path.startswith("/")) else path
    p = p.split("?", 1)[0].split("#", 1)[0]
    return [unquote(s) for s in p.strip("/").split("/")] if p.strip("/") else [""]


def _rank(segs: tuple) -> tuple:
    # Lexicographically smaller == more specific: a literal beats a mixed
    # segment beats a bare parameter, the leftmost difference deciding.
    return tuple(0 if isinstance(s, str) else 1 if s is not None else 2 for s in segs)


def _candidates(concrete: list[str]) -> list[str]:
    found = []
    for template, segs in _path_index().get(len(concrete), ()):
        for want, got in zip(segs, concrete):
            if want is None:
                if got == "":
                    break
            elif isinstance(want, str):
                if want != got:
                    break
            elif not want.fullmatch(got):
                break
        else:
            found.append((_rank(segs), template))
    if not found:
        # {path} (contents), {ref} (git refs, commits, archives) and {branch}
        # may contain slashes: when nothing matches segment-for-segment, let
        # such a trailing parameter swallow the rest (longest template wins).
        for n, entries in _path_index().items():
            if n >= len(concrete):
                continue
            for template, segs in entries:
                m = _PARAM_RE.fullmatch(template.rsplit("/", 1)[-1])
                if not m or m.group(1) not in _SLASHY_PARAMS:
                    continue
                head = concrete[: n - 1]
                if all(
                    (w is None and g != "")
                    or (isinstance(w, str) and w == g)
                    or (w is not None and not isinstance(w, str) and w.fullmatch(g))
                    for w, g in zip(segs[:-1], head)
                ):
                    found.append(((-n,) + _rank(segs), template))
    return [t for _, t in sorted(found)]


def find_operation(method: str, path: str) -> OperationMatch:
    """Match ``method path`` to the description's operation.

    * ``path`` may be a full URL and may carry a query string; both are
      ignored.  Segments are percent-decoded before comparison.
    * When several templates match, literal segments win over parameters,
      the leftmost difference deciding: ``/repos/o/r/issues/comments``
      matches ``/repos/{owner}/{repo}/issues/comments``, not
      ``/repos/{owner}/{repo}/issues/{issue_number}``.  A template that
      matches the path but lacks the method is skipped in favour of the
      next one.
    * A trailing ``{path}``, ``{ref}`` or ``{branch}`` parameter may span
      several segments, but only when no template matches
      segment-for-segment (``/repos/o/r/contents/docs/a.md``,
      ``/repos/o/r/git/ref/heads/main``).
    * ``/repositories/{id}`` and everything below it: GitHub serves these
      as undocumented aliases of ``/repos/{owner}/{repo}`` (the redirect
      target of a renamed repository, and the ``Link`` URLs of paginated
      repository lists).  The description only documents ``/repositories``
      (list public repositories), so these paths are validated as the
      corresponding ``/repos/{owner}/{repo}...`` operation (e.g.
      ``GET /repositories/1`` as "Get a repository", ``repos/get``); the
      returned match's ``.note`` says so.

    Raises ``OperationNotFound`` when nothing matches.
    """
    spec = load_spec()
    method_l = method.lower()
    concrete = _split_path(path)
    note = None
    templates = _candidates(concrete)
    m = _REPOSITORIES_ID_RE.match("/" + "/".join(concrete))
    if m and not any(isinstance(spec["paths"][t].get(method_l), dict) for t in templates):
        # Not documented under /repositories/{repository_id}/... (the
        # description has a few such paths, e.g. environment secrets).
        note = (
            f"the description has no {method.upper()} /repositories/{{id}}{m.group(2) or ''}; "
            "validated as the /repos/{owner}/{repo} equivalent"
        )
        templates = _candidates(["repos", "{owner}", "{repo}"] + concrete[2:])
    for template in templates:
        op = spec["paths"][template].get(method_l)
        if isinstance(op, dict):
            return OperationMatch(template, op, note)
    if templates:
        raise OperationNotFound(
            f"{method.upper()} {path}: path matches {templates[0]} but the "
            f"description documents no {method.upper()} for it"
        )
    raise OperationNotFound(f"{method.upper()} {path}: no path template matches")


# -------------------------------------------------------------- validators


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _resolve_local(obj: Any, pointer: str) -> tuple[Any, str]:
    """Follow (possibly chained) local ``$ref``\\s of a non-schema object
    (response, header); returns the object and its JSON pointer."""
    spec = load_spec()
    seen = set()
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported $ref {ref!r} at {pointer}")
        seen.add(ref)
        pointer = ref[1:]
        obj = spec
        for token in pointer.lstrip("/").split("/"):
            obj = obj[token.replace("~1", "/").replace("~0", "~")]
    return obj, pointer


def _nullable_applicator(keyword: str):
    from openapi_schema_validator import OAS30Validator

    base = OAS30Validator.VALIDATORS[keyword]

    def apply(validator, value, instance, schema):
        if instance is None and schema.get("nullable") is True:
            return
        disc = schema.get("discriminator") if keyword != "enum" else None
        if not disc or not isinstance(instance, dict):
            yield from base(validator, value, instance, schema)
            return
        # With a discriminator only the selected alternative is checked; say
        # which one, or the errors look unrelated to the oneOf.
        prop = disc.get("propertyName")
        chosen = (disc.get("mapping") or {}).get(instance.get(prop)) or (
            f"#/components/schemas/{instance.get(prop)}"
        )
        for error in base(validator, value, instance, schema):
            error.discriminator_note = (
                f"discriminator {prop}={_short(instance.get(prop))} selects "
                f"{chosen.rsplit('/', 1)[-1]}"
            )
            yield error

    return apply


def _type_once(validator, data_type, instance, schema):
    # openapi_schema_validator reports a non-nullable null twice ("None for
    # not nullable" and "None is not of type ..."); say it once, clearly.
    from jsonschema.exceptions import ValidationError
    from openapi_schema_validator import OAS30Validator

    if instance is None and schema.get("nullable") is not True:
        yield ValidationError(f"null is not allowed here (type {data_type!r}, not nullable)")
        return
    yield from OAS30Validator.VALIDATORS["type"](validator, data_type, instance, schema)


@functools.lru_cache(maxsize=None)
def _validator_class():
    from jsonschema.validators import extend
    from openapi_schema_validator import OAS30Validator

    return extend(
        OAS30Validator,
        {
            "allOf": _nullable_applicator("allOf"),
            "anyOf": _nullable_applicator("anyOf"),
            "oneOf": _nullable_applicator("oneOf"),
            "enum": _nullable_applicator("enum"),
            "type": _type_once,
        },
    )


def _is_absolute_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$", instance))


@functools.lru_cache(maxsize=None)
def _format_checker():
    from jsonschema import FormatChecker
    from openapi_schema_validator import oas30_format_checker

    checker = FormatChecker(formats=())
    checker.checkers = dict(oas30_format_checker.checkers)
    checker.checks("uri")(_is_absolute_uri)
    return checker


@functools.lru_cache(maxsize=None)
def _body_validator(schema_pointer: str):
    cls = _validator_class()
    return cls(
        {"$ref": f"{SPEC_URI}#{schema_pointer}"},
        registry=_registry(),
        format_checker=_format_checker(),
    )


def _is_json_media_type(media_type: str) -> bool:
    mt = media_type.split(";", 1)[0].strip().lower()
    return mt == "application/json" or mt.endswith("+json")


@functools.lru_cache(maxsize=None)
def _response_plan(template: str, method: str, status: str):
    """Everything needed to check one (operation, status), built once."""
    spec = load_spec()
    op_pointer = f"/paths/{_escape_pointer(template)}/{method}"
    responses = spec["paths"][template][method].get("responses", {})
    key = None
    for candidate in (status, f"{status[0]}XX", f"{status[0]}xx", "default"):
        if candidate in responses:
            key = candidate
            break
    if key is None:
        return {"documented": sorted(responses)}
    response, pointer = _resolve_local(
        responses[key], f"{op_pointer}/responses/{_escape_pointer(key)}"
    )
    content = response.get("content") or {}
    media_type = next(
        (mt for mt in content if mt.split(";")[0].strip() == "application/json"),
        next((mt for mt in content if _is_json_media_type(mt)), None),
    )
    schema_pointer = None
    if media_type is not None and "schema" in content[media_type]:
        schema_pointer = (
            f"{pointer}/content/{_escape_pointer(media_type)}/schema"
        )
    headers = {}
    for name, header in (response.get("headers") or {}).items():
        header, hpointer = _resolve_local(
            header, f"{pointer}/headers/{_escape_pointer(name)}"
        )
        headers[name.lower()] = (name, header)
    return {
        "key": key,
        "pointer": pointer,
        "content_types": sorted(content),
        "media_type": media_type,
        "schema_pointer": schema_pointer,
        "headers": headers,
    }


# ------------------------------------------------------------ error wording


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_path(path: Iterable) -> str:
    out = "$"
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(p)):
            out += f".{p}"
        else:
            out += f"[{json.dumps(p)}]"
    return out


def _describe(error) -> tuple[str, str]:
    """(json_path, message) for one jsonschema ValidationError."""
    path, message = _describe_plain(error)
    note = getattr(error, "discriminator_note", None)
    return path, (f"{message} [{note}]" if note else message)


def _describe_plain(error) -> tuple[str, str]:
    path = list(error.absolute_path)
    kind = error.validator
    if kind == "required":
        m = re.match(r"^'(.*)' is a required property$", error.message)
        prop = m.group(1) if m else error.message
        return _json_path(path + [prop]), "required property is missing"
    if kind == "type":
        if error.instance is None:
            return _json_path(path), error.message
        return _json_path(path), (
            f"expected type {error.validator_value!r}, got "
            f"{type(error.instance).__name__} {_short(error.instance)}"
        )
    if kind == "enum":
        return _json_path(path), (
            f"{_short(error.instance)} is not one of {_short(error.validator_value, 200)}"
        )
    if kind == "format":
        return _json_path(path), (
            f"{_short(error.instance)} is not a valid {error.validator_value!r}"
        )
    if kind == "oneOf" and "is valid under each of" in error.message:
        return _json_path(path), (
            f"{_short(error.instance)} matches more than one oneOf alternative"
        )
    if kind in ("anyOf", "oneOf") and error.context:
        return _json_path(path), _describe_alternatives(error)
    if kind == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
        known = set((error.schema or {}).get("properties") or {})
        extras = sorted(k for k in error.instance if k not in known)
        if len(extras) == 1:
            return _json_path(path + extras), "property not allowed (additionalProperties: false)"
        return _json_path(path), (
            f"properties not allowed (additionalProperties: false): {', '.join(extras)}"
        )
    message = error.message
    if error.instance is not None and len(message) > 200:
        message = message[:197] + "..."
    return _json_path(path), f"{kind}: {message}"


def _describe_alternatives(error) -> str:
    """Explain a failed anyOf/oneOf by its closest alternative: the one whose
    errors are fewest at the value's own level (a wrong type or a missing
    property there means "not this alternative at all"), then fewest overall."""
    groups: dict[Any, list] = {}
    for sub in error.context:
        idx = sub.relative_schema_path[0] if sub.relative_schema_path else None
        groups.setdefault(idx, []).append(sub)

    def score(item):
        idx, subs = item
        own_level = sum(1 for e in subs if not e.relative_path)
        return (own_level, len(subs), idx if isinstance(idx, int) else 0)

    idx, subs = min(groups.items(), key=score)
    name = f"#{idx}"
    if isinstance(idx, int) and isinstance(error.validator_value, list) and idx < len(error.validator_value):
        alt = error.validator_value[idx]
        if isinstance(alt, dict):
            name = (alt.get("$ref") or "").rsplit("/", 1)[-1] or alt.get("title") or name
    shown = []
    for sub in subs[:3]:
        sub_path, sub_msg = _describe(sub)
        shown.append(f"{sub_path}: {sub_msg}")
    more = f" (+{len(subs) - 3} more)" if len(subs) > 3 else ""
    return (
        f"matches none of the {len(error.validator_value)} {error.validator} alternatives; "
        f"closest is {name}: " + "; ".join(shown) + more
    )


# --------------------------------------------------------------- headers

_LINK_ENTRY_RE = re.compile(r'^\s*<([^>]*)>\s*((?:;\s*[^;,]+)*)\s*$')
_PAGINATION_RELS = {"next", "prev", "first", "last"}


def _split_link(value: str) -> list[str]:
    # commas inside <...> or quotes don't separate entries
    out, buf, depth, quoted = [], "", 0, False
    for ch in value:
        if ch == '"' and depth == 0:
            quoted = not quoted
        elif ch == "<" and not quoted:
            depth += 1
        elif ch == ">" and not quoted:
            depth = max(0, depth - 1)
        if ch == "," and depth == 0 and not quoted:
            out.append(buf)
            buf = ""
        else:
            buf += ch
    out.append(buf)
    return [s for s in out if s.strip()]


def _check_link(value: str) -> list[str]:
    errors = []
    for entry in _split_link(value):
        m = _LINK_ENTRY_RE.match(entry)
        if not m:
            errors.append(f"header Link: malformed entry {entry.strip()!r}")
            continue
        url, params = m.group(1), m.group(2)
        if not urlsplit(url).scheme:
            errors.append(f"header Link: target {url!r} is not an absolute URL")
        rel = re.search(r';\s*rel\s*=\s*"?([^";]+)"?', params)
        if not rel:
            errors.append(f"header Link: entry <{url}> has no rel")
        elif not set(rel.group(1).split()) & _PAGINATION_RELS:
            errors.append(
                f"header Link: entry <{url}> has rel={rel.group(1)!r}, "
                f"expected one of {sorted(_PAGINATION_RELS)}"
            )
    return errors


def _check_header_value(name: str, header: Mapping, value: str) -> list[str]:
    if name.lower() == "link":
        return _check_link(value)
    schema = header.get("schema") or {}
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value.strip()):
        return [f"header {name}: {value!r} is not an integer"]
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return [f"header {name}: {value!r} is not a number"]
    if kind == "boolean" and value.strip().lower() not in ("true", "false"):
        return [f"header {name}: {value!r} is not a boolean"]
    return []


def _check_headers(plan: dict, status: int, has_body: bool, headers: Mapping) -> list[str]:
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    errors = []
    for lname, (name, header) in plan["headers"].items():
        if lname not in lower:
            if header.get("required") is True:
                errors.append(f"header {name}: required by the description but missing")
            continue
        errors += _check_header_value(name, header, lower[lname])
    if has_body and plan.get("media_type"):
        ctype = lower.get("content-type")
        if ctype is None:
            errors.append("[http] header Content-Type: missing for a JSON body")
        elif not _is_json_media_type(ctype):
            errors.append(
                f"[http] header Content-Type: {ctype!r} is not JSON "
                f"(documented: {', '.join(plan['content_types'])})"
            )
    if status in (301, 302, 303, 307, 308) and "location" not in lower:
        errors.append(f"[http] header Location: missing on a {status} redirect")
    return errors


# -------------------------------------------------------------- validation


def validate_response(
    method: str,
    path: str,
    status: int | str,
    body_json: Any,
    headers: Mapping[str, str] | None = None,
    *,
    ignore: Iterable[str] = (),
) -> list[str]:
    """Check one response against the description; ``[]`` means conforming.

    ``body_json`` is the parsed JSON body; pass ``NO_BODY`` (or ``None``)
    when there is no body.  JSON ``null`` and "no body" are not told apart:
    either is fine where the description documents no content, and either is
    reported as a missing body where it documents a JSON schema.
    ``headers`` (any mapping, case-insensitive names) turns on the header
    checks described in the module docstring.  ``ignore`` is a list of
    regexes: body errors whose ``"<json path>: <message>"`` matches one are
    dropped before anything else (for documented, known inaccuracies of the
    description; they do not count towards ``MAX_ERRORS``).

    Raises ``SpecUnavailable`` if the description is missing; an unknown
    path/method is reported as an error, not raised.
    """
    status_s = str(int(status))
    where = f"{method.upper()} {path} -> {status_s}"
    try:
        match = find_operation(method, path)
    except OperationNotFound as exc:
        return [f"{where}: {exc}"]
    template, _op = match
    plan = _response_plan(template, method.lower(), status_s)
    has_body = body_json is not NO_BODY and body_json is not None
    if "key" not in plan:
        errors = [
            f"{where}: status {status_s} is not documented for "
            f"{method.upper()} {template} (documented: {', '.join(plan['documented'])})"
        ]
        if headers is not None:  # the HTTP-level checks still apply
            generic = {"headers": {}, "media_type": "application/json", "content_types": ["application/json"]}
            errors += [f"{where}: {e}" for e in _check_headers(generic, int(status_s), has_body, headers)]
        return errors
    prefix = f"{where} ({method.upper()} {template}, response {plan['key']}): "
    errors: list[str] = []

    if plan["schema_pointer"] is None:
        if plan["content_types"] and has_body and plan["media_type"] is None:
            errors.append(
                f"body is JSON but the description documents only "
                f"{', '.join(plan['content_types'])}"
            )
        elif not plan["content_types"] and has_body:
            errors.append(
                f"$: the description documents no body for {plan['key']}, "
                f"got {_short(body_json)}"
            )
    elif not has_body:
        errors.append("$: a JSON body is documented but the response has none")
    else:
        validator = _body_validator(plan["schema_pointer"])
        ignore_res = [re.compile(p) for p in ignore]
        seen = set()
        for error in validator.iter_errors(body_json):
            jpath, message = _describe(error)
            if (jpath, message) in seen:
                continue
            seen.add((jpath, message))
            if any(re.search(p, f"{jpath}: {message}") for p in ignore_res):
                continue
            errors.append(f"{jpath}: {message}")
            if len(errors) >= MAX_ERRORS:
                errors.append(f"... (stopped after {MAX_ERRORS} errors)")
                break
        errors.sort()

    if headers is not None:
        errors += _check_headers(plan, int(status_s), has_body, headers)
    return [prefix + e for e in errors]


def validate_schema(schema: str, instance: Any) -> list[str]:
    """Validate ``instance`` against one schema of the description.

    ``schema`` is a component name (``"basic-error"``) or a JSON pointer into
    the description (``"/components/schemas/basic-error"``).  Same semantics
    and error wording as ``validate_response``, without the status/header
    logic; useful for statuses an operation does not document.
    """
    pointer = schema if schema.startswith("/") else f"/components/schemas/{_escape_pointer(schema)}"
    errors, seen = [], set()
    for error in _body_validator(pointer).iter_errors(instance):
        described = _describe(error)
        if described not in seen:
            seen.add(described)
            errors.append(f"{described[0]}: {described[1]}")
    return sorted(errors)


def validate_requests_response(
    resp, method: str | None = None, path: str | None = None, *, ignore: Iterable[str] = ()
) -> list[str]:
    """``validate_response`` for a ``requests.Response``.

    The method and path default to those of ``resp.request`` (pass
    ``allow_redirects=False`` to check a redirect itself).  A body that is
    not valid JSON where JSON is documented is reported as an error.
    """
    method = method or resp.request.method
    path = path or resp.request.path_url
    body: Any = NO_BODY
    if resp.content:
        try:
            body = resp.json()
        except ValueError:
            return [
                f"{method.upper()} {path} -> {resp.status_code}: body is not JSON: "
                f"{resp.text[:80]!r}"
            ]
    return validate_response(method, path, resp.status_code, body, resp.headers, ignore=ignore)
