"""Read an upstream's own list of derived sites (the Tokyo repo's FORKED_SITES.md).

`parse_site_list(text)` turns Markdown (tables, bullet or numbered lists, plain lines) into one
`ListedSite` per entry: its site URL, its GitHub repo (owner/name) when one is linked, and the
region and operator texts when the list gives them. Pure: no network, no store.

Tables are read by their header: a column named like 地域/都道府県/region is the region, one
named like 運営/operator the operator; links anywhere in the row are sorted into GitHub repos
(`github.com/OWNER/REPO`, whatever follows: `/tree/branch`, `.git`, a trailing slash) and site
URLs (any other http(s) link, `*.github.io` pages included: a Pages site may be built from any
repo, so its repo is never guessed from its address). In lists and plain lines the text before
the first link is the region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Paths under github.com that are not repositories.
_NOT_OWNERS = {"orgs", "sponsors", "topics", "marketplace", "settings", "features", "about", "apps",
               "search", "explore", "login", "join", "pricing", "collections", "users", "notifications"}
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_MD_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?(https?://[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"<?(https?://[^\s<>|()\[\]\"'、。，）]+)>?")
_REGION_HEADERS = ("地域", "都道府県", "自治体", "エリア", "region", "area", "prefecture", "place")
_OPERATOR_HEADERS = ("運営", "作成", "開発", "管理", "提供", "operator", "maintainer", "maintained", "organization",
                     "organisation", "団体")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class ListedSite:
    site_url: str | None   # the site itself, when the entry links one
    repo: str | None       # "owner/name" of its GitHub repo, when the entry links one
    region: str | None     # the region text as written ("北海道", "兵庫県神戸市")
    operator: str | None   # who runs it, as written

    @property
    def entry(self) -> str:
        """A stable key: the site's URL, else its repo's."""
        return self.site_url or f"https://github.com/{self.repo}"


def github_repo(url: str) -> str | None:
    """'https://github.com/Owner/Repo/tree/main/' -> 'Owner/Repo'; None for anything else."""
    m = re.match(r"^(?:https?://)?(?:www\.)?github\.com/([^/?#]+)/([^/?#]+)(/[^?#]*)?", url.strip(), re.IGNORECASE)
    if not m:
        return None
    rest = (m.group(3) or "").strip("/")
    if rest and not rest.startswith("tree/"):  # a file, an issue, a wiki page: a link about the repo, not a listing
        return None
    owner, name = m.group(1), m.group(2)
    name = name[:-4] if name.lower().endswith(".git") else name
    if owner.lower() in _NOT_OWNERS or not _OWNER.match(owner) or not _NAME.match(name) or name in (".", ".."):
        return None
    return f"{owner}/{name}"


def _clean_url(url: str) -> str:
    return url.rstrip(".,;:!?)]>")


def _links(text: str) -> tuple[list[str], str]:
    """The URLs in a piece of Markdown, in order, and the text with them removed."""
    urls: list[str] = []

    def keep(m: re.Match) -> str:
        urls.append(_clean_url(m.group(2)))
        return m.group(1) if not _BARE_URL.fullmatch(m.group(1).strip()) else " "

    text = _MD_LINK.sub(keep, text)

    def keep_bare(m: re.Match) -> str:
        urls.append(_clean_url(m.group(1)))
        return " "

    text = _BARE_URL.sub(keep_bare, text)
    return urls, text


def _plain(text: str) -> str | None:
    """Cell text without links, emphasis, HTML tags or surrounding punctuation; None when empty."""
    _, text = _links(text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"[*_`~]", "", text)
    text = re.sub(r"\s+", " ", text).strip(" -–—:：|/、,()（）[]")
    return text or None


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def _is_separator(cells: list[str]) -> bool:
    return bool(cells) and all(re.fullmatch(r":?-{2,}:?", c.replace(" ", "")) for c in cells if c) and any(cells)


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for i, cell in enumerate(header):
        label = (_plain(cell) or "").lower()
        if any(n in label for n in names):
            return i
    return None


def _entry(urls: list[str], region: str | None, operator: str | None) -> ListedSite | None:
    repos = [r for r in (github_repo(u) for u in urls) if r]
    sites = [u for u in urls if github_repo(u) is None and not re.match(r"^https?://(?:www\.)?github\.com(?:/|$)", u,
                                                                        re.IGNORECASE)]
    if not repos and not sites:
        return None
    return ListedSite(site_url=sites[0] if sites else None, repo=repos[0] if repos else None,
                      region=region, operator=operator)


def parse_site_list(text: str) -> list[ListedSite]:
    """Every entry of a Markdown list of derived sites, in order, each repo and site once."""
    entries: list[ListedSite] = []
    lines = text.splitlines()
    header: list[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if "|" in line and i + 1 < len(lines) and _is_separator(_split_row(lines[i + 1])):
            header = _split_row(line)
            i += 2
            continue
        if header is not None and "|" in line and line.strip():
            cells = _split_row(line)
            region_col, operator_col = _column(header, _REGION_HEADERS), _column(header, _OPERATOR_HEADERS)
            region = _plain(cells[region_col]) if region_col is not None and region_col < len(cells) else None
            operator = _plain(cells[operator_col]) if operator_col is not None and operator_col < len(cells) else None
            urls = [u for cell in cells for u in _links(cell)[0]]
            entry = _entry(urls, region, operator)
            if entry is not None:
                entries.append(entry)
            i += 1
            continue
        header = None
        item = _LIST_MARK.match(line)  # outside tables only list items are entries, not prose
        urls, _ = _links(line)
        if item and urls:
            body = line[item.end():]
            first = min((m.start() for m in (_MD_LINK.search(body), _BARE_URL.search(body)) if m), default=len(body))
            rest = body[:first] if _plain(body[:first]) else _MD_LINK.sub(lambda m: m.group(1), body)
            operator = None
            m = re.search(r"[(（]\s*(?:運営|operator|by)\s*[:：]?\s*([^)）]+)[)）]", _links(body)[1], re.IGNORECASE)
            if m:
                operator = m.group(1).strip()
                rest = rest.replace(m.group(0), "")
            entry = _entry(urls, _plain(rest), operator)
            if entry is not None:
                entries.append(entry)
        i += 1
    return _unique(entries)


def _unique(entries: list[ListedSite]) -> list[ListedSite]:
    """The first entry for each repo and each site (a list may name a site twice)."""
    seen: set[str] = set()
    out = []
    for e in entries:
        keys = {k.lower() for k in (e.repo, e.site_url) if k}
        if keys & seen:
            continue
        seen |= keys
        out.append(e)
    return out


__all__ = ["ListedSite", "github_repo", "parse_site_list"]
