"""The site against hostile visitors and hostile GitHub text (issue 15, points 3 and 10).

`civicbot serve` and the published bundle run as real servers (subprocesses on 127.0.0.1):
single SQL functions that one step of the time limit cannot stop end with a clean error or a
quick answer, the server keeps answering and its memory stays bounded; internal tables stay out
of the bundle; markdown loads no image; bidi and zero-width characters are shown, not obeyed;
`publish` refuses a database path that is a device, a folder or a symlink loop.
"""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from browser_site import CHROMIUM, CHROMIUM_ARGS, free_port

from civicbot.config import Config
from civicbot.publish.bundle import build_bundle, serve_command
from civicbot.store import open_store

CLI = [str(Path(sys.executable).parent / "civicbot")]
RLO_TITLE = "Fix the map\u202e gpj.exe \u200bhidden"
HOST = "maintainer-laptop.internal"
PIXEL_PORT = free_port()
PIXEL = f"http://127.0.0.1:{PIXEL_PORT}/pixel.png"
BODY = f"Look: ![tracker]({PIXEL}) and <img src=\"{PIXEL}?raw\"> [a link](https://example.org/)"
# One SQL function call each; unbounded, each runs for seconds in a single step or takes a GB.
BIG = "printf('%.*c', 999999999, 'x')"
TOO_BIG = {
    "printf": f"select length({BIG})",
    "format": "select length(format('%.*c', 2147483647, 'x'))",
    "printf, many conversions": "select length(printf('%.400000c%.400000c%.400000c', 'a', 'b', 'c'))",
    "zeroblob": "select length(zeroblob(999999999))",
    "randomblob": "select length(hex(randomblob(999999999)))",
    "replace that grows": "select length(replace(printf('%.*c', 400000, 'a'), 'a', 'aaaaaaaaaa'))",
    "group_concat": "with recursive n(i) as (select 1 union all select i + 1 from n limit 2000)"
                    " select length(group_concat(printf('%.*c', 1000, 'x'), '')) from n",
}
# Each value under the length limit, but a page of them would be half a GB.
MANY_ROWS = ("with recursive n(i) as (select 1 union all select i + 1 from n limit 1001)"
             " select hex(zeroblob(262000)) as x from n")
# Quadratic in SQLite's own code (a memcmp per offset, a scan of the set per character): several
# seconds in one step there. The recursion after it gives Datasette's progress handler the steps it
# needs to see the time limit passed, so unbounded they end "took too long" instead of answering.
HAYSTACK = "printf('%.*c', 500000, 'a')"
NEEDLE = "printf('%.*c', 250000, 'a') || 'b'"
CHARS = "printf('%.*c', 2000, 'b') || 'a'"


def then_steps(value: str) -> str:
    return (f"with recursive n(i, r) as (select 1, {value} union all select i + 1, r from n where i < 5000)"
            " select max(r) from n")


QUADRATIC = {
    "instr": (then_steps(" + ".join([f"instr({HAYSTACK}, {NEEDLE})"] * 5)), 0),
    "replace": (then_steps(" + ".join([f"length(replace({HAYSTACK}, {NEEDLE}, ''))"] * 5)), 5 * 500000),
    "ltrim": (then_steps(f"length(ltrim({HAYSTACK}, {CHARS}))"), 0),
}


def make_store(folder: Path) -> dict:
    """A small store with hostile text and every internal table filled; its configuration."""
    path = folder / "site.db"
    db = open_store(path)
    db["harvest_runs"].insert({"id": 1, "outcome": "failed", "error": f"connection reset on {HOST}:/home/me/civicbot"})
    db["users"].insert({"id": 1, "login": "alice"})
    db["repos"].insert({"id": 10, "full_name": "Tokyo-Metro-Gov/covid19", "owner": "Tokyo-Metro-Gov",
                        "name": "covid19"})
    db["items"].insert({"id": 100, "repo_id": 10, "number": 1, "title": RLO_TITLE, "body": BODY, "user_id": 1,
                        "state": "open", "created_at": "2021-01-01T00:00:00Z", "updated_at": "2021-01-01T00:00:00Z",
                        "run_id": 1})
    db["comments"].insert({"id": 1000, "item_id": 100, "repo_id": 10, "issue_number": 1, "user_id": 1, "body": "ok",
                           "created_at": "2021-01-02T00:00:00Z", "updated_at": "2021-01-02T00:00:00Z"})
    db["heartbeat"].insert({"id": 1, "pid": 424242, "host": HOST, "started_at": "2021-01-01T00:00:00Z",
                            "beat_at": "2021-01-01T00:00:00Z", "state": "idle"})
    db["job_runs"].insert({"job": "harvest", "outcome": "failed", "details": json.dumps({"host": HOST})})
    db["label_audit"].insert({"run_key": "r1", "repo_id": 10, "item_id": 100, "number": 1, "action": "failed",
                              "reason": f"refused on {HOST}", "label": "good first issue", "dry_run": 0})
    db["sync_state"].insert({"repo_id": 10, "resource": "issues", "next_url": f"https://{HOST}/next"})
    db.conn.commit()
    db.close()
    return {"name": "site", "upstream": "Tokyo-Metro-Gov/covid19", "database": {"path": str(path)}}


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sql(base: str, db: str, query: str) -> tuple[int, dict]:
    status, text = fetch(f"{base}/{db}.json?" + urllib.parse.urlencode({"sql": query}))
    return status, json.loads(text)


def start(command: list[str], cwd: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):  # waiting for readiness, not timing anything
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            fetch(f"http://127.0.0.1:{port}/-/versions.json")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    """The most memory the process ever held (VmHWM: freed memory leaves VmRSS, not this)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    raw = make_store(folder)
    config_path = folder / "site.yml"
    config_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return Config.model_validate(raw), config_path


@pytest.fixture(scope="module")
def live(store):
    """`civicbot serve` as a maintainer runs it."""
    _, config_path = store
    port = free_port()
    proc = start(CLI + ["serve", "-c", str(config_path), "--port", str(port)], config_path.parent, port)
    yield f"http://127.0.0.1:{port}", proc
    stop(proc)


@pytest.fixture(scope="module")
def bundle(store, tmp_path_factory):
    """The published bundle, served by plain Datasette with its README's command."""
    config, _ = store
    out = tmp_path_factory.mktemp("bundle")
    target = build_bundle(config, out, source=config.database.path)
    port = free_port()
    command = [sys.executable, "-m"] + serve_command(target.name) + ["-p", str(port)]
    proc = start(command, out, port)
    yield f"http://127.0.0.1:{port}", out, target, proc
    stop(proc)


def assert_bounded(base: str, db: str, pid: int) -> None:
    for name, query in TOO_BIG.items():
        status, answer = sql(base, db, query)
        assert status == 400 and "too big" in answer["error"], (name, status, answer.get("error"), answer["rows"])
    for name, (query, expected) in QUADRATIC.items():
        status, answer = sql(base, db, query)
        assert status == 200, (name, answer.get("error"))  # ended within the time limit
        assert answer["rows"][0] == [expected], name
    status, answer = sql(base, db, "select 'aaaa' like '%' || printf('%.*c', 300, 'a') || 'b'")
    assert status == 400 and "pattern too complex" in answer["error"]
    # three of each at once: no GB each (one value, or a page of values), and the server still answers
    results = []
    threads = [threading.Thread(target=lambda q=q: results.append(sql(base, db, q)))
               for q in (f"select {BIG}", MANY_ROWS) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in results) == [400] * 6
    assert sum("over 32 MB" in answer["error"] for _, answer in results) == 3
    assert peak_rss_mb(pid) < 400
    status, answer = sql(base, db, "select 1 as one")
    assert status == 200 and answer["rows"] == [[1]]


def test_live_site_cuts_heavy_single_functions(live):
    base, proc = live
    assert_bounded(base, "site", proc.pid)
    # the functions SQLite's built-ins were replaced by still answer as SQLite does
    status, answer = sql(base, "site", "select instr('東京都', '京'), instr(x'0102', x'02'), instr(12345, 34),"
                                       " replace('a.b.c', '.', '::'), replace(5.5, '.', ','), trim('xxhixx', 'x'),"
                                       " ltrim('..a..', '.'), rtrim('..a..', '.'), printf('%5.1f|%d|%s|%-3s|', 3.14159, 7,"
                                       " 'a', 'b'), format('%.*c', 3, 'z'), replace(null, 'a', 'b'), instr('a', null)")
    assert status == 200, answer
    assert answer["rows"][0] == [2, 2, 3, "a::b::c", "5,5", "hi", "a..", "..a", "  3.1|7|a|b  |",
                                  "zzz", None, None]


def test_live_search_still_works_with_the_replaced_functions(live):
    base, _ = live
    for term in ("map", "ma"):  # the trigram index, and LIKE (its pattern under the limit)
        status, text = fetch(f"{base}/site/search.json?q={term}&_shape=array")
        assert status == 200 and [r["title"] for r in json.loads(text)] == [RLO_TITLE], text


def test_bundle_carries_the_plugin_and_its_limits(bundle):
    base, out, target, proc = bundle
    assert (out / "plugins" / "civicbot_site.py").exists()
    readme = (out / "README.md").read_text()
    assert readme.count("--plugins-dir plugins") == 3  # serve, package, publish cloudrun
    assert "civicbot_site.py" in fetch(f"{base}/-/plugins.json")[1]
    assert_bounded(base, target.stem, proc.pid)


def test_bundle_serves_the_definitions_page_and_japanese_table_pages(bundle):
    """Plain Datasette with the bundle's plugin, templates and docs: /-/definitions in Japanese,
    a table page's sort line and breadcrumb in Japanese first."""
    base, _, target, _ = bundle
    status, text = fetch(f"{base}/-/definitions")
    assert status == 200 and '<html lang="ja">' in text and 'id="people"' in text and "参加した人" in text
    status, text = fetch(f"{base}/{target.stem}/items?_sort_desc=created_at")
    assert status == 200 and "created_at の降順 / sorted by created_at descending" in text
    assert ">ホーム / home</a>" in text and ">作成日時（プロジェクトの時間帯） / created (project&#39;s time zone)&nbsp;" in text


def test_bundle_publishes_no_internal_table(bundle):
    _, out, target, _ = bundle
    conn = sqlite3.connect(target)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"heartbeat", "job_runs", "label_audit", "sync_state", "candidates"}
    assert "harvest_runs" in tables and "error" not in {r[1] for r in conn.execute("PRAGMA table_info(harvest_runs)")}
    assert conn.execute("SELECT outcome FROM harvest_runs").fetchall() == [("failed",)]
    assert HOST.encode() not in target.read_bytes() and HOST not in (out / "inspect-data.json").read_text()


def test_live_site_hides_internal_tables(live):
    base, _ = live
    status, text = fetch(f"{base}/site")
    assert status == 200
    for table in ("heartbeat", "job_runs", "label_audit", "sync_state", "harvest_runs"):
        assert f'href="/site/{table}"' not in text, table


def test_bidi_and_zero_width_characters_are_shown(live, bundle):
    base, _ = live
    for page in ("items", "items/100", "comments"):  # a cell, a row, a comment's item by its title
        status, html = fetch(f"{base}/site/{page}")
        assert status == 200
        assert "Fix the map⟦U+202E⟧ gpj.exe ⟦U+200B⟧hidden" in html and "\u202e" not in html and "\u200b" not in html
    assert '<a href="/site/items/100">Fix the map' in html
    target = bundle[2]
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT title FROM items").fetchone()[0] == "Fix the map⟦U+202E⟧ gpj.exe ⟦U+200B⟧hidden"


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_markdown_loads_no_external_image(live, bundle):
    pixel = http.server.ThreadingHTTPServer(("127.0.0.1", PIXEL_PORT), Recorder)
    threading.Thread(target=pixel.serve_forever, daemon=True).start()
    bundle_base, _, target, _ = bundle
    pages = [f"{base}/{db}?" + urllib.parse.urlencode({"sql": "select body as body_markdown from items"})
             for base, db in ((live[0], "site"), (bundle_base, target.stem))]
    try:
        for url in pages:
            status, html = fetch(url)
            assert status == 200 and "[tracker]" in html, url  # rendered as markdown: the image is a link
            assert "<img" not in html.split('<div class="table-wrapper">')[1], url
        if CHROMIUM.exists():
            playwright_api = pytest.importorskip("playwright.sync_api")
            with playwright_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for url in pages:
                    page = browser.new_page()
                    page.goto(url, wait_until="networkidle")
                    assert page.locator("td.col-body_markdown a", has_text="[tracker]").count() == 1
                    page.close()
                browser.close()
            assert Recorder.requests == []
    finally:
        pixel.shutdown()
        pixel.server_close()


@pytest.mark.parametrize("kind", ["device", "folder", "symlink loop"])
def test_publish_and_serve_refuse_a_database_that_is_not_a_file(tmp_path, kind):
    path = tmp_path / "loop.db"
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "folder":
        path = tmp_path / "folder.db"
        path.mkdir()
    else:
        os.symlink(tmp_path / "other.db", path)
        os.symlink(path, tmp_path / "other.db")
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump({"name": "x", "upstream": "o/r", "database": {"path": str(path)}}))
    for command in (["publish", "-c", str(config), "--out", str(tmp_path / "out")],
                    ["serve", "-c", str(config), "--port", str(free_port())]):
        result = subprocess.run(CLI + command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (command, result.stdout, result.stderr[-2000:])
        assert "Published" not in result.stdout and "Datasette:" not in result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0], result.stderr[-2000:]


def test_bundle_cuts_text_longer_than_github_allows(store, tmp_path):
    """A body over GitHub's 65,536 characters (from an impersonator) would be over the site's
    length limit, and every page showing it would fail: the bundle cuts it."""
    config, _ = store
    source = tmp_path / "long.db"
    with sqlite3.connect(config.database.path) as src, sqlite3.connect(source) as dst:
        src.backup(dst)
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE items SET body = ? WHERE id = 100", ["界" * 1_000_000])
    target = build_bundle(config, tmp_path / "out", source=source, run_inspect=False)
    body = sqlite3.connect(target).execute("SELECT body FROM items WHERE id = 100").fetchone()[0]
    assert body == "界" * 65_536 + " [truncated]"
