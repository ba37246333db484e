"""Reading a config file (`load_config`), its errors (`ConfigError`, one line naming the file,
the field path and the problem), the tokens it names (`resolve_tokens`) and the JSON Schema of the
models (`config_json_schema`). The models are in civicbot.config.models."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import ValidationError

from civicbot.config_values import GITHUB_TOKEN_RE, SECRET_KEY_RE, SECRET_KEYS_ALLOWED, TOKEN_ADVICE
from civicbot.paths import FileProblem, read_capped

from .models import Config

# Far above any real config or token file, far below what would exhaust memory (-c /dev/zero).
CONFIG_MAX_BYTES = 1_000_000
TOKEN_FILE_MAX_BYTES = 64_000
# A config is a few levels deep; a deeper YAML document is a mistake or an attack (PyYAML
# recurses per level: thousands of levels end in a RecursionError).
YAML_MAX_DEPTH = 50


# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where (a dotted field path, a YAML line, or "" for the whole file) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ValueError):
    """A config (or token source) is unusable. `str()` is one line: source, path, first problem."""

    def __init__(self, source: str, errors: list[ConfigIssue]):
        self.source = source
        self.errors = errors
        first = " ".join(str(errors[0]).split())  # one line, whatever the message held
        if len(first) > 400:  # a short line, whatever value it quotes
            first = first[:399] + "…"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{source}: {first}{more}")


# ---------------------------------------------------------------------------------------------
# Loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate one config file. Raises ConfigError (one line) on any problem; never writes."""
    source = os.fspath(path)
    data = _parse(source, _read_text(source))
    issues = _secret_issues(data)
    if issues:
        raise ConfigError(source, issues)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, [_issue(err) for err in e.errors()]) from None


def _read_text(source: str) -> str:
    try:
        raw = read_capped(source, CONFIG_MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(source, [ConfigIssue("", "no such file")]) from None
    except FileProblem as e:
        raise ConfigError(source, [ConfigIssue("", str(e).replace("not a file", "not a config file"))]) from None
    except OSError as e:
        raise ConfigError(source, [ConfigIssue("", f"cannot read: {e.strerror or e}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        issue = ConfigIssue(f"line {line}", f"not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8")
        raise ConfigError(source, [issue]) from None


def _parse(source: str, text: str) -> dict:
    try:
        _check_depth(text)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # _check_depth makes this unlikely; one line whatever happens
        raise ConfigError(source, [ConfigIssue("", f"YAML nested too deeply (at most {YAML_MAX_DEPTH} levels)")]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(source, [ConfigIssue(where, f"YAML error: {e.problem or e.context or 'invalid YAML'}")]) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, [ConfigIssue("", f"YAML error: {e}")]) from None
    if data is None:
        raise ConfigError(source, [ConfigIssue("", "the file is empty; a config needs at least name and upstream")])
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", f"the top level must be a mapping of settings, not a {_yaml_kind(data)}")])
    return data


def _check_depth(text: str) -> None:
    """Refuse a document nested deeper than YAML_MAX_DEPTH, reading its events (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > YAML_MAX_DEPTH:
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {YAML_MAX_DEPTH} levels",
                                           problem_mark=event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _yaml_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), type(value).__name__)


def _secret_issues(data: Any) -> list[ConfigIssue]:
    """Find tokens written into the config: secret-named keys with a value, token-shaped strings.

    Runs before validation so a token never reaches a validation message. Messages name the
    place, never the value.
    """
    issues: list[ConfigIssue] = []
    seen: set[int] = set()  # YAML aliases share (or loop back to) nodes: visit each once

    def walk(value: Any, path: tuple) -> None:
        if isinstance(value, (dict, list)):
            if id(value) in seen:
                return
            seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                where = _dotted((*path, key))
                if isinstance(key, str) and GITHUB_TOKEN_RE.search(key):
                    issues.append(ConfigIssue(_dotted(path), f"a key looks like a GitHub token; {TOKEN_ADVICE}"))
                    continue
                if (isinstance(key, str) and SECRET_KEY_RE.search(key) and key not in SECRET_KEYS_ALLOWED
                        and item not in (None, "", [], {})):
                    issues.append(ConfigIssue(where, f"secrets are not allowed in the config; {TOKEN_ADVICE}"))
                    continue
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))
        elif isinstance(value, str) and GITHUB_TOKEN_RE.search(value):
            issues.append(ConfigIssue(_dotted(path), f"this looks like a GitHub token; {TOKEN_ADVICE}"))

    walk(data, ())
    return issues


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _issue(err: dict) -> ConfigIssue:
    """A pydantic error as a ConfigIssue, without the input value (it could be a secret)."""
    loc = tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    elif err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        message = f"unknown key; expected one of: {', '.join(allowed)}" if allowed else "unknown key"
    return ConfigIssue(_dotted(loc), message)


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the model at `loc` accepts (to suggest them when a key is unknown)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        while get_origin(annotation) is not None:  # list[X], X | None
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        model = annotation
    return list(getattr(model, "model_fields", ()))


# ---------------------------------------------------------------------------------------------
# Tokens


def resolve_tokens(config: Config, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The tokens named by github.token_env and github.token_file, in that order, deduplicated.

    Unset environment variables are skipped, and no token at all is allowed: the caller then
    runs unauthenticated (and should say so). A variable set but empty, or a token file that is
    missing, unreadable or holds no token, is a ConfigError naming it. No error shows a token.
    """
    tokens: list[str] = []
    for name in config.github.token_env:
        if name not in environ:
            continue
        value = environ[name].strip()
        if not value:
            raise ConfigError(f"environment variable {name}", [ConfigIssue("", "is set but empty")])
        _check_token_shape(value, f"environment variable {name}")
        tokens.append(value)
    if config.github.token_file is not None:
        tokens.extend(_read_token_file(config.github.token_file))
    return list(dict.fromkeys(tokens))


def _read_token_file(path: Path) -> list[str]:
    source = f"token file {path}"
    try:
        text = read_capped(path, TOKEN_FILE_MAX_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, [ConfigIssue("", "no such file")]) from None
    except FileProblem as e:
        raise ConfigError(source, [ConfigIssue("", str(e))]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [ConfigIssue("", "not UTF-8 text")]) from None
    except OSError as e:
        raise ConfigError(source, [ConfigIssue("", f"cannot read: {e.strerror or type(e).__name__}")]) from None
    tokens = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            _check_token_shape(line, source, f"line {number}")
            tokens.append(line)
    if not tokens:
        raise ConfigError(source, [ConfigIssue("", "holds no token (one per line expected)")])
    return tokens


def _check_token_shape(token: str, source: str, where: str = "") -> None:
    # A token goes into an HTTP header: inner whitespace or non-ASCII means a pasting mistake.
    if not token.isascii() or any(c.isspace() for c in token):
        raise ConfigError(source, [ConfigIssue(where, "the token contains spaces or non-ASCII characters (one token per line)")])


# ---------------------------------------------------------------------------------------------
# JSON Schema


def config_json_schema() -> dict:
    """The JSON Schema of a config file, as committed in config/schema.json."""
    schema = Config.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
