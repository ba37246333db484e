"""Screenshots of each dashboard on demo data: `make screenshots` (writes docs/screenshots/*.png).

Builds the demo site (a generated world, harvested through the simulator, with every metric),
serves it on 127.0.0.1 and photographs each dashboard with headless Chromium (Debian's
`chromium`, driven by Playwright). Nothing leaves the machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_site import CHROMIUM, CHROMIUM_ARGS, build_store, serve_site  # noqa: E402


def main(out: Path = ROOT / "docs" / "screenshots") -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        config = build_store(Path(tmp), scale=0.3, seed=1)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with serve_site(config) as (url, ds):
            dashboards = ds.metadata().get("plugins", {}).get("datasette-dashboards", {})
            for slug in dashboards:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
                page.goto(f"{url}/-/dashboards/{slug}", wait_until="networkidle")
                page.wait_for_timeout(1500)  # let vega finish drawing
                page.screenshot(path=str(out / f"dashboard-{slug}.png"), full_page=True)
                print(f"wrote {out / f'dashboard-{slug}.png'}")
                page.close()
        browser.close()


if __name__ == "__main__":
    main()
