"""Screenshots of the home page and each dashboard on demo data, at a desktop's 1400 px and a
phone's 390 px: `make screenshots` (writes docs/screenshots/*.png).

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

WIDTHS = [(1400, ""), (390, "-390px")]  # a desktop, a phone


def main(out: Path = ROOT / "docs" / "screenshots") -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        config = build_store(Path(tmp), scale=0.3, seed=1)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with serve_site(config) as (url, ds):
            dashboards = ds.metadata().get("plugins", {}).get("datasette-dashboards", {})
            pages = [("home", "/")] + [(f"dashboard-{slug}", f"/-/dashboards/{slug}") for slug in dashboards]
            for name, path in pages:
                for width, suffix in WIDTHS:
                    page = browser.new_page(viewport={"width": width, "height": 1000})
                    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
                    page.goto(f"{url}{path}", wait_until="networkidle")
                    page.wait_for_timeout(1500)  # let vega finish drawing
                    target = out / f"{name}{suffix}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(f"wrote {target}")
                    page.close()
        browser.close()


if __name__ == "__main__":
    main()
