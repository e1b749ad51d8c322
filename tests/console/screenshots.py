"""Screenshots of the console's main pages in its four languages, at a desktop and a phone
width, into docs/console/ (``scripts/console-screenshots``). The same live console the
browser tests use: a fresh SQLite database with the demo registry and people."""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.console.live import CHROMIUM, LANGS, PASSWORD, Live, live_console

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# page name → (who signs in (None: nobody), path, sizes)
PAGES = {
    "sign-in": (None, "/console/sign-in", ("desktop",)),
    "declarations": ("marat.supervisor", "/console/declarations", ("desktop", "phone")),
    "declaration": ("marat.supervisor", "/console/declarations/{decl}", ("desktop", "phone")),
    "people": ("kz.admin", "/console/admin/users", ("desktop",)),
}


def sign_in(page: Page, live: Live, login: str) -> None:
    page.goto("/console/sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r"/console/sign-in/code"))
    page.fill("#code", live.code(login))
    page.click("#code-submit")
    page.wait_for_url(re.compile(r"/console/$"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_console(Path(tmp)) as live,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for lang, accept in LANGS.items():
            for name, (who, path, sizes) in PAGES.items():
                for size in sizes:
                    ctx = browser.new_context(
                        base_url=live.url,
                        locale=accept,
                        extra_http_headers={"Accept-Language": accept},
                        viewport=SIZES[size],
                        device_scale_factor=1,
                        is_mobile=size == "phone",
                        has_touch=size == "phone",
                    )
                    page = ctx.new_page()
                    if who is not None:
                        sign_in(page, live, who)
                    page.goto(path.format(decl=live.imports[lang]))
                    target = args.out / f"{name}-{lang}-{size}.png"
                    page.screenshot(path=str(target))
                    print(target.relative_to(args.out.parent.parent))
                    ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
