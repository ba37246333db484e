"""Screenshots of every public page on demo data, at a desktop's 1400 px and a phone's 390 px:
`make screenshots` (writes docs/screenshots/*.png, shown in the README); `python
docs/screenshots.py tables row-item` photographs only the pages named.

Builds the demo site (a generated world, harvested through the simulator, with every metric),
serves it on 127.0.0.1 and photographs each page a visitor reaches from the home page (the
dashboards, the search, the definitions, the maintainers' pages, the tables, one table and one
row) with headless Chromium (Debian's `chromium`, driven by Playwright). Nothing leaves the
machine. With `pngquant` installed (apt-get install pngquant) the files are shrunk to 256 colours.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_site import CHROMIUM, CHROMIUM_ARGS, build_store, serve_site  # noqa: E402

WIDTHS = [(1400, ""), (390, "-390px")]  # a desktop, a phone
MAX_HEIGHT = 4000  # px: a long table's first screens tell what the page is


def pages(ds) -> list[tuple[str, str]]:
    """(file name, path) of every kind of page a visitor reaches from the home page."""
    metadata = ds.metadata()
    db = next(name for name in ds.databases if not name.startswith("_"))
    conn = sqlite3.connect(f"file:{ds.get_database(db).path}?mode=ro", uri=True)
    item = conn.execute("SELECT id FROM items WHERE title LIKE '%翻訳%' AND body <> '' ORDER BY id LIMIT 1").fetchone() \
        or conn.execute("SELECT min(id) FROM items").fetchone()
    conn.close()
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    queries = metadata["databases"][db].get("queries", {})
    return ([("home", "/")] + [(f"dashboard-{slug}", f"/-/dashboards/{slug}") for slug in dashboards]
            + [("search", f"/{db}/search?q=翻訳"), ("definitions", "/-/definitions")]
            + [(f"query-{name}", f"/{db}/{name}") for name in queries if name != "search"]
            + [("tables", f"/{db}"), ("table-items", f"/{db}/items?_size=20"), ("row-item", f"/{db}/items/{item[0]}")])


def triage(config) -> None:
    """`civicbot triage`, as `make demo` runs it: the good-first-issue page has candidates."""
    from civicbot.store import open_store
    from civicbot.triage.score import score_family

    db = open_store(config.database.path)
    score_family(db, config, repos=[])
    db.close()


def main(out: Path = ROOT / "docs" / "screenshots", only: list[str] | None = None) -> None:
    """Every page, or only those named (`python docs/screenshots.py tables row-item`: the pages a
    change touched)."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        config = build_store(Path(tmp), scale=0.3, seed=1, hostile=False)
        triage(config)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with serve_site(config) as (url, ds):
            chosen = [(name, path) for name, path in pages(ds) if not only or name in only]
            unknown = set(only or ()) - {name for name, _ in chosen}
            if unknown:
                raise SystemExit(f"no such page: {', '.join(sorted(unknown))} (the names are those of docs/screenshots/*.png)")
            for name, path in chosen:
                for width, suffix in WIDTHS:
                    page = browser.new_page(viewport={"width": width, "height": 1000})
                    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
                    page.goto(f"{url}{path}", wait_until="networkidle")
                    page.wait_for_timeout(1500)  # let vega finish drawing
                    target = out / f"{name}{suffix}.png"
                    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
                    page.screenshot(path=str(target), full_page=True,
                                    clip={"x": 0, "y": 0, "width": width, "height": height})
                    if shutil.which("pngquant"):
                        subprocess.run(["pngquant", "--force", "--skip-if-larger", "--output", str(target),
                                        "--", str(target)], check=False)
                    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")
                    page.close()
        browser.close()


if __name__ == "__main__":
    main(only=sys.argv[1:])
