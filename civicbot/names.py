"""GitHub account, repo and branch names: the one check before a name enters a request path.

Names come from the config and from API answers (a fork list, a search result, a renamed repo).
A hostile or broken answer could hold `../../etc/passwd`; checked here, it never reaches a path.
"""

from __future__ import annotations

import re
from typing import Any

# GitHub: an owner is 1-39 letters, digits or hyphens, not starting with a hyphen (old accounts
# may have doubled or trailing hyphens, so those are allowed); a repo name is 1-100 letters,
# digits, '.', '_' or '-'. Together these rule out spaces, extra slashes and '..' traversal.
OWNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
REPO_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"
# Git refuses these in a ref name (git check-ref-format), and none may enter a URL path unquoted.
_BAD_REF = re.compile(r"\.\.|@\{|//|^/|/$|^\.|/\.|\.lock$|\.$|[\x00-\x20\x7f~^:?*\[\\#%]")


def shown(value: object, limit: int = 60) -> str:
    """`value` quoted for an error message, cut short when long: a one-line error stays short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(str(value)):,} characters)"


def full_name_problem(value: Any) -> str | None:
    """Why `value` is not a GitHub `owner/name`, or None when it is one."""
    if not isinstance(value, str):
        return f"expected owner/name, got {type(value).__name__}"
    owner, slash, name = value.partition("/")
    if not slash:
        return f"expected owner/name, like Tokyo-Metro-Gov/covid19, got {shown(value)}"
    if not OWNER_RE.fullmatch(owner):
        return f"owner {shown(owner)} is not a GitHub account name (1-39 letters, digits or hyphens)"
    if not REPO_NAME_RE.fullmatch(name) or name in {".", ".."}:
        return f"repo name {shown(name)} is not a GitHub repo name (1-100 letters, digits, '.', '_' or '-')"
    return None


def is_owner(value: Any) -> bool:
    return isinstance(value, str) and bool(OWNER_RE.fullmatch(value))


def is_branch(value: Any) -> bool:
    """A branch name git would accept, safe in a path (a compare's `base...head`)."""
    return isinstance(value, str) and 0 < len(value) <= 255 and not _BAD_REF.search(value)
