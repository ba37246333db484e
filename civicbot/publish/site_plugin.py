"""civicbot's Datasette plugin: a site safe for hostile visitors and hostile GitHub text.

Self-contained (only the standard library, Datasette and datasette-render-markdown's own
dependencies), because the published bundle ships this file in its `plugins/` folder for a
plain `datasette serve --plugins-dir plugins`. `civicbot serve` registers it directly.

- `prepare_connection`: SQLite length limits on every connection Datasette opens, linear or
  bounded versions of the built-in functions whose single step the time limit cannot stop
  (Datasette's `sql_time_limit_ms` is a progress handler, which runs only between steps), and a
  bound on the text of one answer.
- `render_cell`: bidi-override and zero-width characters shown as a visible marker,
  `*_markdown` columns rendered without loading any image, and the values of small fixed
  vocabularies in words (`value_words`). See docs/publish.md.
- `startup`: `settle_memory` once per process, for `civicbot serve` and the bundle's own
  `datasette serve` alike.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import unicodedata
import weakref
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datasette import Response, hookimpl
from markupsafe import Markup, escape

# The largest text or blob value any query may make or read. GitHub caps issue, PR and comment
# bodies at 65,536 characters (at most 262,144 bytes of UTF-8), so this leaves room for every real
# value while bounding what one function call can build.
MAX_VALUE_BYTES = 512 * 1024
LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 100_000,        # the longest canned query is a few KB
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 200,   # LIKE / GLOB cost value length x pattern length
}
# The most text one answer may hold (characters and bytes of every value, summed over its rows):
# max_returned_rows values of MAX_VALUE_BYTES each would be half a GB, in Python, per query.
MAX_ANSWER_CHARS = 32 * 1024 * 1024
_DIGITS = re.compile(r"\d+")

# Bidi embeddings/overrides/isolates, zero-width spaces/joiners and marks, the BOM: they can
# reorder or hide text in a title or login.
# The key of this plugin's settings in the metadata (`timezone`: the project's zone, for times).
SITE_PLUGIN = "civicbot-site"
_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


# Search (civicbot/publish/search.py builds the index): words are runs of letters and digits of
# the folded text; a word of 3+ characters is the phrase of its 3-grams, a shorter one a token.
SEARCH_TABLE = "items_search"
MIN_TRIGRAM_LENGTH = 3
MAX_QUERY_CHARS = 200   # a search box, not a document: longer input is cut
MAX_WORDS = 8
_WORD = re.compile(r"[^\W_]+")
_HIRAGANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}  # ぁ..ゖ -> ァ..ヶ
_HIRAGANA.update({0x309D: 0x30FD, 0x309E: 0x30FE})                 # ゝゞ -> ヽヾ


def fold(text: str | None) -> str:
    """`text` as search compares it: NFKC (half-width kana and full-width Latin become
    ordinary), lower case, hiragana as katakana."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", text).lower().translate(_HIRAGANA)


def words(text: str | None) -> list[str]:
    return _WORD.findall(fold(text))


def grams(text: str | None) -> str:
    """What the index holds for a text, space-separated: for each word its 3-grams in order,
    then its characters and 2-grams. A token's length says which it is, and 3-grams are next to
    each other only within a word, so a word of 3+ characters is found as the phrase of its
    3-grams (SQLite's trigram tokenizer does the same) and a 1-2 character word as one token."""
    out = []
    for word in words(text):
        out.extend(word[i:i + 3] for i in range(len(word) - 2))
        out.extend(word)
        out.extend(word[i:i + 2] for i in range(len(word) - 1))
    return " ".join(out)


def match_expression(term: str | None) -> str | None:
    """The FTS5 MATCH expression for what a visitor typed (every word must occur), or None when
    it holds no word. Words are made of letters and digits only, so nothing needs quoting."""
    if not isinstance(term, str):
        return None
    parts = []
    for word in dict.fromkeys(words(term[:MAX_QUERY_CHARS])[:MAX_WORDS]):
        if len(word) >= MIN_TRIGRAM_LENGTH:
            parts.append('"' + " ".join(word[i:i + 3] for i in range(len(word) - 2)) + '"')
        else:
            parts.append(f'"{word}"')
    return " AND ".join(parts) or None


def match_or_nothing(term) -> str:
    """`match_expression`, or an empty phrase, which matches no row (MATCH NULL is an error)."""
    return match_expression(term) or '""'


def mark_invisible(text: str) -> str:
    """`text` with each bidi-control or zero-width character replaced by a visible ⟦U+XXXX⟧."""
    return INVISIBLE.sub(lambda m: f"⟦U+{ord(m.group()):04X}⟧", text)


class _Functions:
    """Replacements for SQLite built-ins that are quadratic, or loop without bound, in one step.

    Values that are not text or blobs are converted by a private in-memory connection, so numbers
    read as SQLite writes them; printf itself runs there once its widths are known to be small.
    """

    def __init__(self):
        self.helper = sqlite3.connect(":memory:", check_same_thread=False)
        for limit, value in LIMITS.items():
            self.helper.setlimit(limit, value)

    def register(self, conn) -> None:
        conn.create_function("instr", 2, self.instr, deterministic=True)
        conn.create_function("replace", 3, self.replace, deterministic=True)
        for name in ("trim", "ltrim", "rtrim"):
            conn.create_function(name, 2, self._trim(name), deterministic=True)
        for name in ("printf", "format"):
            conn.create_function(name, -1, self.printf, deterministic=True)

    def _text(self, value):
        if isinstance(value, (str, bytes)):
            return value
        return self.helper.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]

    @staticmethod
    def _too_big():
        # Returning a value over SQLITE_LIMIT_LENGTH makes SQLite raise its own clean error,
        # "string or blob too big" (an exception here would only say "user-defined function").
        return b"\0" * (MAX_VALUE_BYTES + 1)

    def instr(self, haystack, needle):
        if haystack is None or needle is None:
            return None
        if not (isinstance(haystack, bytes) and isinstance(needle, bytes)):
            haystack, needle = self._str(haystack), self._str(needle)
        return haystack.find(needle) + 1  # Python's search is linear; SQLite's is memcmp per offset

    def _str(self, value) -> str:
        value = self._text(value)
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    def replace(self, text, old, new):
        if text is None or old is None or new is None:
            return None
        text, old, new = self._str(text), self._str(old), self._str(new)
        if not old:
            return text
        size = len(text.encode()) + text.count(old) * (len(new.encode()) - len(old.encode()))
        return self._too_big() if size > MAX_VALUE_BYTES else text.replace(old, new)

    def _trim(self, name):
        def trim(text, chars):
            if text is None or chars is None:
                return None
            text, drop = self._str(text), set(self._str(chars))  # a set: SQLite scans the list per character
            start, end = 0, len(text)
            if name in ("trim", "ltrim"):
                while start < end and text[start] in drop:
                    start += 1
            if name in ("trim", "rtrim"):
                while end > start and text[end - 1] in drop:
                    end -= 1
            return text[start:end]
        return trim

    def printf(self, *args):
        """SQLite's printf, refused when its widths and precisions add up to more than the limit.

        `%.*c` with a precision of 2**31 loops two billion times in one step even when the result
        is over the length limit. The bound is deliberately loose: every number written in the
        format counts, and with a `*` every number among the arguments counts too.
        """
        if not args:
            return None
        fmt = self._str(args[0]) if args[0] is not None else ""
        total = 0
        for digits in _DIGITS.findall(fmt):
            total += int(digits) if len(digits) <= 7 else MAX_VALUE_BYTES + 1
        if "*" in fmt:
            for value in args[1:]:
                if value is not None:
                    total += max(abs(x) for x in self.helper.execute(
                        "SELECT CAST(?1 AS INTEGER), CAST(CAST(?1 AS REAL) AS INTEGER)", (value,)).fetchone())
        if total > MAX_VALUE_BYTES:
            return self._too_big()
        placeholders = ", ".join("?" for _ in args)
        return self.helper.execute(f"SELECT printf({placeholders})", args).fetchone()[0]


class _AnswerBudget:
    """A row factory (Datasette's sqlite3.Row) that refuses an answer once its values add up to
    more than MAX_ANSWER_CHARS: each value is bounded by SQLite, the sum over a page is not."""

    def __init__(self):
        self.cursor, self.size = None, 0

    def __call__(self, cursor, row):
        if cursor is not self.cursor:  # Datasette makes a cursor per query
            self.cursor, self.size = cursor, 0
        self.size += sum(len(v) for v in row if isinstance(v, (str, bytes)))
        if self.size > MAX_ANSWER_CHARS:
            raise sqlite3.DataError(f"the answer is over {MAX_ANSWER_CHARS // 2**20} MB of text: "
                                    "ask for fewer rows or shorter values")
        return sqlite3.Row(cursor, row)


# Where a person is and whom they work for: only aggregates are public (contributors_by_place,
# contributors_by_affiliation). NULL in the published bundle (bundle.sanitise), read as NULL on
# `civicbot serve`, whatever the SQL.
PERSONAL_COLUMNS = {"users": ("location", "company"), "contributors_summary": ("company",)}


def _hide_personal(action, table, column, _database, _trigger):
    """SQLite authorizer: a read of a personal column gives NULL (SQLITE_IGNORE), in any query."""
    if action == sqlite3.SQLITE_READ and column in PERSONAL_COLUMNS.get(table, ()):
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


@hookimpl(trylast=True)
def prepare_connection(conn):
    for limit, value in LIMITS.items():
        conn.setlimit(limit, value)
    conn.set_authorizer(_hide_personal)
    _Functions().register(conn)
    # Datasette's table search box wraps the visitor's words in escape_fts(): the same rule as
    # the `search` canned query (trylast: Datasette registers its own escape_fts before this).
    conn.create_function("civicbot_search_match", 1, match_or_nothing, deterministic=True)
    conn.create_function("escape_fts", 1, match_or_nothing, deterministic=True)
    conn.row_factory = _AnswerBudget()


# The items table's own search box (`?_search=`, `?_search_title=`, `?_search_body=`). Datasette's
# built-in box puts every match in the page's WHERE, then counts and sorts them all: about 100,000
# rows for `page` at 10^6 items. The metadata gives `items` no `fts_table`, so that box stays off,
# and this filter takes the newest MAX_MATCHES matches from the index instead, as the `search`
# canned query does (dashboards/queries.yml holds the same number): the page's rows, count and
# sort then read at most MAX_MATCHES items, whatever the term.
MAX_MATCHES = 500
SEARCHABLE = {"items": ("title", "body")}  # table: columns of its index, SEARCH_TABLE


@hookimpl(trylast=True)  # last, so its `supports_search` wins over Datasette's own (False here)
def filters_from_request(request, database, table, datasette):
    if table not in SEARCHABLE:
        return None

    async def inner():
        from datasette.filters import FilterArguments
        from datasette.utils.asgi import BadRequest

        if not await datasette.get_database(database).table_exists(SEARCH_TABLE):
            return None
        terms = {key: request.args[key] for key in request.args if key == "_search" or key.startswith("_search_")}
        matches, params, described = [], {}, []
        for i, (key, term) in enumerate(terms.items()):
            column = key.removeprefix("_search_") if key != "_search" else SEARCH_TABLE
            if column != SEARCH_TABLE and column not in SEARCHABLE[table]:
                raise BadRequest(f"検索できる列は {', '.join(SEARCHABLE[table])} です / "
                                 f"search works in {', '.join(SEARCHABLE[table])} only")
            matches.append(f"{column} MATCH civicbot_search_match(:civicbot_search_{i})")
            params[f"civicbot_search_{i}"] = term
            described.append(f'検索「{term}」（新しい順に最大 {MAX_MATCHES} 件） / search matches "{term}" '
                             f"(newest {MAX_MATCHES} at most)")
        where = [f"id IN (SELECT rowid FROM {SEARCH_TABLE} WHERE {' AND '.join(matches)} "
                 f"ORDER BY rowid DESC LIMIT {MAX_MATCHES})"] if matches else []
        context = {"supports_search": True}
        if terms:
            context["search"] = terms.get("_search", next(iter(terms.values())))
        return FilterArguments(where, params, described, context)
    return inner


def _markdown_columns(datasette, database, table):
    # The columns datasette-render-markdown would render: its `columns` and `patterns` settings.
    config = datasette.plugin_config("datasette-render-markdown", database=database, table=table) or {}
    patterns = config.get("patterns")
    return config.get("columns") or [], ["*_markdown"] if patterns is None else patterns


def render_markdown(text: str) -> Markup:
    """Markdown as datasette-render-markdown renders it, but every image becomes a link to it:
    a browser loads nothing from another site (an image in an issue body can be a tracking pixel)."""
    import bleach
    import markdown
    from bleach.html5lib_shim import Filter
    from bleach.linkifier import LinkifyFilter

    class ImagesAsLinks(Filter):
        def __iter__(self):
            for token in Filter.__iter__(self):
                if token["type"] == "EmptyTag" and token["name"] == "img":
                    src = token["data"].get((None, "src"))
                    alt = token["data"].get((None, "alt")) or "image"
                    text = {"type": "Characters", "data": f"[{alt}]"}
                    if src:
                        yield {"type": "StartTag", "name": "a", "data": {(None, "href"): src}}
                        yield text
                        yield {"type": "EndTag", "name": "a", "data": {}}
                    else:
                        yield text
                else:
                    yield token

    tags = ["a", "abbr", "acronym", "b", "blockquote", "code", "em", "i", "li", "ol", "strong", "ul", "pre",
            "p", "h1", "h2", "h3", "h4", "h5", "h6", "img"]
    cleaner = bleach.Cleaner(tags=tags, attributes={"a": ["href"], "img": ["src", "alt"]},
                             filters=[ImagesAsLinks, lambda source: LinkifyFilter(source, skip_tags={"pre"})])
    html = cleaner.clean(markdown.markdown(mark_invisible(text), output_format="html5"))
    return Markup(f'<div style="white-space: normal">{html}</div>')


def _marked_link(value: dict, column, table, database, datasette):
    """An expanded foreign key (a comment's item shown by its title) as Datasette links it."""
    from datasette.utils import tilde_encode

    async def link():
        keys = await datasette.get_database(database).foreign_keys_for_table(table)
        other = next((k["other_table"] for k in keys if k["column"] == column), None)
        if other is None:
            return None
        href = datasette.urls.row(database, other, tilde_encode(str(value["value"])))
        return Markup(f'<a href="{escape(href)}">{escape(mark_invisible(value["label"]))}</a>'
                      f'&nbsp;<em>{escape(value["value"])}</em>')
    return link()


def value_words(value, words: dict | None) -> str | None:
    """A stored value of a column with a small fixed vocabulary in words, Japanese first (the
    table's metadata `value_labels`, from descriptions.yml's `values`): 月 / month for `month`. A
    value made of several (`fork,site_list`) reads フォーク、元のサイトの一覧 / fork, the original site's list."""
    if not words or not isinstance(value, str):
        return None
    if value in words:
        return words[value]
    parts = [part.strip() for part in value.split(",")]
    if len(parts) < 2 or not all(part in words for part in parts):
        return None
    halves = [words[part].partition(" / ") for part in parts]
    return "、".join(ja for ja, _, _ in halves) + " / " + ", ".join(en or ja for ja, _, en in halves)


_VALUE_LABELS = weakref.WeakKeyDictionary()  # Datasette -> {(database, table): value_labels}


def _value_labels(datasette, database: str, table: str | None) -> dict:
    """The table's metadata `value_labels` (no table: a query's answer, the database's), read once
    per Datasette and table: the metadata is fixed once the server runs, and reading it for every
    cell made a page of 100 rows 20% slower."""
    tables = _VALUE_LABELS.setdefault(datasette, {})
    if (database, table) not in tables:
        found = datasette.table_metadata(database, table) if table else \
            {"value_labels": datasette.metadata("value_labels", database=database, fallback=False)}
        tables[(database, table)] = found.get("value_labels") or {}
    return tables[(database, table)]


_ZONES = weakref.WeakKeyDictionary()  # Datasette -> the project's zone name (None: UTC)


def _zone(datasette) -> str | None:
    """The project's zone from this plugin's settings, read once per Datasette as `_value_labels`
    is: render_cell asks for it in every cell that holds a time."""
    if datasette not in _ZONES:
        _ZONES[datasette] = (datasette.plugin_config(SITE_PLUGIN) or {}).get("timezone")
    return _ZONES[datasette]


@hookimpl(tryfirst=True)
def render_cell(value, column, table, database, datasette):
    if isinstance(value, dict) and table and isinstance(value.get("label"), str) and INVISIBLE.search(value["label"]):
        return _marked_link(value, column, table, database, datasette)
    if not isinstance(value, str):
        return None
    words = value_words(value, _value_labels(datasette, database, table).get(column))
    if words:  # the stored value stays in the filters, the address and the query's form; shown on hover
        return Markup(f'<span title="{escape(value)}">{escape(words)}</span>')
    from fnmatch import fnmatch

    columns, patterns = _markdown_columns(datasette, database, table)
    if column in columns or any(fnmatch(column, p) for p in patterns):
        return render_markdown(value)
    if INVISIBLE.search(value):
        return Markup(escape(mark_invisible(value)))
    if _MOMENT.fullmatch(value):  # a stored UTC time, read as 2020年3月4日 14:06 JST; the value stays in datetime
        return Markup(f'<time datetime="{value}">{escape(japanese_date(value, _zone(datasette)))}</time>')
    return None


# The database's page (every public table) as the home page links to it and the breadcrumb names it.
EVERY_TABLE = "すべての表 / every table"
_SORTED = re.compile(r"\s*sorted by (.+?)( descending)?$")


def human_japanese(text: str | None) -> str:
    """Datasette's English line under a table's row count ("where state = open sorted by
    created_at descending"), Japanese first: 絞り込み: state = open、created_at の降順 / ..."""
    if not text:
        return ""
    sort = _SORTED.search(text)
    where = (text[:sort.start()] if sort else text).strip()
    ja = ["絞り込み: " + where.removeprefix("where ").replace(" and ", "、")] if where else []
    if sort:
        ja.append(f"{sort[1]} の{'降順' if sort[2] else '昇順'}")
    return "、".join(ja) + " / " + text


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["in_japanese"] = human_japanese
    env.globals["every_table"] = EVERY_TABLE
    env.filters["in_words"] = lambda value, words: value_words(value, words) or value  # templates/_facet_results.html


LOG = logging.getLogger("civicbot.site")
SLOW_TITLE = "時間がかかりすぎました / This took too long"
SLOW_MESSAGE = ("この検索・集計は時間内に終わりませんでした。語を増やすか、期間やリポジトリを絞ってもう一度お試しください。 / "
                "This search or table took too long to answer. Please add a word, or narrow the period or "
                "repository, and try again.")


@hookimpl
def handle_exception(datasette, request, exception):
    """A query stopped by the time limit: a short bilingual page (or JSON) and one log line,
    instead of Datasette's page that shows the SQL and the traceback it prints."""
    from datasette.views.base import DatasetteError

    if not (isinstance(exception, DatasetteError) and exception.title == "SQL Interrupted"):
        return None

    async def inner():
        LOG.warning("query interrupted by the time limit: %s", request.path)
        info = {"ok": False, "error": SLOW_MESSAGE, "status": 503, "title": SLOW_TITLE}
        headers = {"Retry-After": "60"}
        if request.path.endswith(".json"):
            return Response.json(info, status=503, headers=headers)
        template = datasette.jinja_env.select_template(["error.html"])
        html = await template.render_async(dict(info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
                                                menu_links=lambda: []))
        return Response.html(html, status=503, headers=headers)
    return inner


_DOC_NAME = re.compile(r"[A-Za-z0-9_-]+\.md")
# The visitors' page of words and figures (docs/definitions.md): Japanese first, each term with
# a stable anchor (`{#people}`) that the home page and the dashboards link to.
DEFINITIONS = "definitions.md"
DEFINITIONS_TITLE = "用語と数字の定義 / What the words and figures mean"


@hookimpl
def register_routes():
    return [(r"^/-/docs/(?P<name>[^/]+)$", docs_page), (r"^/-/definitions$", definitions_page)]


def _docs_file(datasette, name: str):
    from pathlib import Path

    from datasette.utils.asgi import NotFound

    folder = next((path for mount, path in datasette.static_mounts if mount == "docs"), None)
    path = Path(folder or "", name)
    if folder is None or not _DOC_NAME.fullmatch(name) or not path.is_file():
        raise NotFound("no such page / ページがありません")
    return path


def _markdown_html(path) -> str:
    import markdown

    html = markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables", "fenced_code", "attr_list"])
    # Links between docs stay on rendered pages.
    return re.sub(r'href="(?!https?:|/|#)([A-Za-z0-9_-]+\.md)', r'href="/-/docs/\1', html)


def _markdown_page(datasette, path, title: str, lang: str) -> Response:
    html = _markdown_html(path)
    page = (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="{datasette.urls.static("app.css")}"></head><body>'
            f'<div class="page-header"><a href="{datasette.urls.instance()}">&larr; ホーム / home</a></div>'
            f'<section class="content">{html}</section></body></html>')
    return Response.html(page)


async def docs_page(datasette, request):
    """A page of the docs folder (the `docs` static mount) as HTML in UTF-8: served raw, Markdown
    is `text/markdown` without a charset and browsers show its Japanese as mojibake."""
    name = request.url_vars["name"]
    return _markdown_page(datasette, _docs_file(datasette, name), name, "en")


async def definitions_page(datasette, request):
    """/-/definitions: docs/definitions.md, the one source of the public definitions, in Japanese."""
    body = Markup(_markdown_html(_docs_file(datasette, DEFINITIONS)))  # our own file, not GitHub text
    return Response.html(await datasette.render_template("definitions.html", {"title": DEFINITIONS_TITLE,
                                                                              "body": body}, request=request))


def japanese_date(value: str | None, zone: str | None = None) -> str:
    """`2020-03-04` as 2020年3月4日; a UTC timestamp keeps its time, in the project's zone when
    given: 2020年3月4日 14:06 JST (else 05:06 UTC)."""
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d:\d\d))?", value or "")
    if not match:
        return ""
    year, month, day, clock = match.groups()
    if clock and zone:
        try:  # not civicbot.store.from_utc_text: this file ships alone in the bundle (see above)
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
        except (ValueError, KeyError, ZoneInfoNotFoundError):
            moment = None
        if moment is not None:
            return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M} {moment.tzname()}"
    return f"{year}年{int(month)}月{int(day)}日" + (f" {clock} UTC" if clock else "")


async def front_page(datasette) -> dict:
    """What the home page (templates/index.html) shows: the database, its headline figures,
    the harvest's status, the canned queries and dashboards; empty figures before any harvest."""
    names = [name for name in datasette.databases if not name.startswith("_")]
    if not names:
        return {"front": None}
    name = names[0]
    db = datasette.get_database(name)
    tables = set(await db.table_names())
    figures = [dict(r) for r in (await db.execute("SELECT * FROM headline_figures ORDER BY rowid")).rows] \
        if "headline_figures" in tables else []
    status = (await db.execute("SELECT * FROM harvest_status")).first() if "harvest_status" in tables else None
    metadata = datasette.metadata()
    queries = metadata.get("databases", {}).get(name, {}).get("queries", {})
    dashboards = datasette.plugin_config("datasette-dashboards") or {}
    if status:
        status = dict(status)
        for key in ("whole_from", "whole_to", "first_weeks_from", "first_weeks_to", "harvested_at"):
            status[key + "_ja"] = japanese_date(status[key], status.get("timezone"))
    return {"front": {
        "database": name, "figures": {f["figure"]: f for f in figures}, "order": [f["figure"] for f in figures],
        "status": status,
        "queries": [(key, q.get("title") or key, q.get("description") or "") for key, q in queries.items()
                    if key != "search"],
        "has_search": "search" in queries,
        "dashboards": [(slug, d.get("title") or slug, d.get("description") or "") for slug, d in dashboards.items()],
        "download": db.is_mutable is False and datasette.setting("allow_download"),
    }}


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    """`row_label`: a row page's label (an issue's title, a user's login) for its heading, in
    place of bare ids such as `items: 570000047`; `hidden_tables`, whose links it leaves out;
    `described`, the tables' metadata (their titles and headings).
    `front`: the home page's figures and links."""
    if view_name == "index":
        return lambda: front_page(datasette)
    if view_name != "row" or not table or request is None:
        return {}

    async def label():
        from datasette.utils import escape_sqlite, tilde_decode

        db = datasette.get_database(database)
        hidden = set(await db.hidden_table_names())
        column = await db.label_column_for_table(table)
        pks = await db.primary_keys(table)
        values = [tilde_decode(v) for v in request.url_vars.get("pks", "").split(",")]
        # the other tables' titles and headings, for the rows that refer to this one
        described = ((datasette.metadata("databases") or {}).get(database) or {}).get("tables") or {}
        if not column or len(pks) != 1 or len(values) != 1:
            return {"row_label": None, "hidden_tables": hidden, "described": described}
        rows = await db.execute(f"SELECT {escape_sqlite(column)} FROM {escape_sqlite(table)} WHERE {escape_sqlite(pks[0])} = ?", values)
        first = rows.first()
        text = first[0] if first is not None else None
        return {"row_label": mark_invisible(text) if isinstance(text, str) and text else None,
                "hidden_tables": hidden, "described": described}
    return label


def settle_memory() -> None:
    """Before serving: move the objects that live as long as the server (Datasette, its metadata
    with every dashboard's chart specs, the plugins) out of the garbage collector's sight. Python's
    full collections then no longer walk them every few requests: 35 to 40 ms each at 10^6, which
    put the search page's p95 at twice its median (docs/performance.md)."""
    import gc

    gc.collect()
    gc.freeze()


_settled = False  # once per process: a second Datasette (tests make many) would freeze the first's garbage


@hookimpl
def startup(datasette):
    """Settle memory once the server's Datasette is set up, whichever command started it."""
    global _settled
    if not _settled:
        _settled = True
        settle_memory()
