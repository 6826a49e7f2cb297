"""The built website, checked in a real browser (Chromium through Playwright).

The site is served from ``docs/_build/html`` by a local HTTP server; on the cross-entropy page
and three others (and on the page of every formula) the math must be typeset by MathJax (served by the site itself: no request
leaves the machine), the figure must load, and the source of the reference forward and gradient
must be there; on every loss page and API page MathJax must parse every formula of the
docstrings and leave no TeX untypeset; the search must find "focal" and "Tversky"; and a crawl of the whole site from
``index.html`` must find no internal link that answers 404. Screenshots of two pages are saved
under ``docs/_build/screenshots/``.

Skipped, with the reason, where the site is not built or no browser is found.
"""

from __future__ import annotations

import concurrent.futures
import functools
import html.parser
import http.server
import os
import pathlib
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "_build" / "html"
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"
BUILD = "pip install -e '.[docs]' && python -m sphinx -W -b html docs docs/_build/html"
CHROMIUM = os.environ.get("NPLOSS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

# The cross-entropy page and three others, of other families; two of them get a screenshot.
PAGES = ("cross_entropy", "tversky", "triplet", "huber")
SCREENSHOT_PAGES = ("cross_entropy", "tversky")
# TeX that would be left in the text if MathJax had not typeset it.
RAW_TEX = re.compile(r"\\(frac|sum|partial|mathrm|ell|log|exp|max|sigma|alpha|beta|lambda|qquad|quad)\b|\\\(|\\\[")

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").exists(), reason=f"the website is not built; build it with: {BUILD}"
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature of the base class
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The built site on a free port of the loopback interface."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[test]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no browser at {CHROMIUM}: apt-get install chromium (or set NPLOSS_CHROMIUM)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def open_page(browser: Any, url: str) -> tuple[Any, list[str], list[str]]:
    """A page at ``url``, with the requests that failed and those that left the local server."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    outside: list[str] = []
    origin = urllib.parse.urlsplit(url).netloc
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("request", lambda request: None if urllib.parse.urlsplit(request.url).netloc in (origin, "") else outside.append(request.url))
    page.goto(url, wait_until="load")
    return page, failed, outside


def wait_for_mathjax(page: Any) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("() => MathJax.startup.promise")


def visible_prose(page: Any) -> str:
    """The text of the article without its code blocks (code may hold backslashes of its own)."""
    return page.evaluate(
        """() => { const article = document.querySelector('article').cloneNode(true);
                   article.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
                   return article.innerText; }"""
    )


@pytest.mark.parametrize("loss", PAGES)
def test_loss_page(browser: Any, server: str, loss: str) -> None:
    page, failed, outside = open_page(browser, f"{server}losses/{loss}.html")
    try:
        assert page.title() == f"{loss} - nploss"
        wait_for_mathjax(page)
        assert page.locator("mjx-container").count() >= 2, "MathJax typeset no formula"
        raw = RAW_TEX.findall(visible_prose(page))
        assert not raw, f"TeX left untypeset on the {loss} page: {raw[:5]}"
        assert not page.locator("mjx-merror").count(), "MathJax reported a formula it could not parse"

        figure = page.locator(".nploss-figure img")
        assert figure.count() == 1
        figure.scroll_into_view_if_needed()
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", figure.element_handle())

        sources = page.locator(".nploss-source")
        assert sources.count() >= 2, "the reference forward and VJP are not shown"
        assert "def _" in sources.first.inner_text() and "return" in sources.nth(1).inner_text()
        assert page.locator("a[href*='_modules/nploss/losses/']").count() >= 1, "no link to the highlighted source"
        assert "Audit" in page.locator("article").inner_text()

        assert not failed, f"requests that failed: {failed}"
        assert not outside, f"requests that left the local server: {outside}"
        if loss in SCREENSHOT_PAGES:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(SCREENSHOTS / f"{loss}.png"))
            page.screenshot(path=str(SCREENSHOTS / f"{loss}_full.png"), full_page=True)
    finally:
        page.close()


def _math_problems(server: str, pages: list[str]) -> list[str]:
    """What is wrong with the math of ``pages``, checked in a browser of this thread's own (a
    Playwright instance serves one thread)."""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = chromium.new_page()
        for relative in pages:
            page.goto(server + relative, wait_until="load")
            if page.locator("script[src*='mathjax']").count():  # Sphinx loads MathJax on pages with math only
                wait_for_mathjax(page)
            errors = page.locator("mjx-merror")
            if errors.count():
                problems.append(f"{relative}: MathJax could not parse {errors.first.get_attribute('data-mjx-error')}")
            raw = RAW_TEX.findall(visible_prose(page))
            if raw:
                problems.append(f"{relative}: TeX left untypeset: {raw[:5]}")
        chromium.close()
    return problems


def test_the_math_of_every_loss_and_api_page_parses(browser: Any, server: str) -> None:
    """Every loss page and API page (their docstrings' math, not only the registry's formulas):
    MathJax reports no parse error and leaves no TeX untypeset in the prose. Two browsers, one
    per core, each take half the pages (MathJax's typesetting is most of the time)."""
    pages = sorted(p.relative_to(SITE).as_posix() for folder in ("losses", "api") for p in (SITE / folder).glob("*.html"))
    assert len(pages) > 140, pages
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        halves = pool.map(_math_problems, [server, server], [pages[0::2], pages[1::2]])
        problems = [problem for half in halves for problem in half]
    assert not problems, "\n".join(problems)


def test_every_formula_parses(browser: Any, server: str) -> None:
    """The page of every loss's formula: MathJax typesets each one and reports no parse error."""
    page, failed, outside = open_page(browser, f"{server}losses/formulas.html")
    try:
        wait_for_mathjax(page)
        errors = page.locator("mjx-merror")
        assert not errors.count(), f"MathJax could not parse: {errors.first.get_attribute('data-mjx-error')}"
        links = page.locator("article a.reference.internal[href$='.html']").count()
        assert links > 100 and page.locator("mjx-container").count() >= links
        assert not RAW_TEX.findall(visible_prose(page)) and not failed and not outside
    finally:
        page.close()


@pytest.mark.parametrize(("query", "expected"), [("focal", "sigmoid_focal"), ("Tversky", "tversky")])
def test_search_finds(browser: Any, server: str, query: str, expected: str) -> None:
    page, failed, outside = open_page(browser, f"{server}search.html?q={query}")
    try:
        results = page.locator("#search-results li, ul.search li")
        results.first.wait_for(timeout=20_000)
        text = page.locator("#search-results").inner_text()
        assert results.count() >= 1 and expected in text, f"searching {query!r} found: {text[:500]}"
        assert not failed and not outside
    finally:
        page.close()


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and ((tag in ("a", "link") and name == "href") or (tag in ("img", "script", "source") and name == "src")):
                self.links.append(value)


def test_every_internal_link_resolves(server: str) -> None:
    """Crawl the site from index.html: every link and resource on the site must answer 200."""
    seen: dict[str, str] = {}  # url -> the page that first linked to it
    queue, broken, pages = [server + "index.html"], [], 0
    seen[queue[0]] = "(start)"
    while queue:
        url = queue.pop()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            broken.append(f"{url} ({error.code}), linked from {seen[url]}")
            continue
        if "html" not in kind:
            continue
        pages += 1
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        for link in parser.links:
            target = urllib.parse.urljoin(url, link)
            target = urllib.parse.urldefrag(target)[0].split("?")[0]
            if target.startswith(server) and target not in seen:
                seen[target] = url
                queue.append(target)
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:30])
    assert pages > 150, f"only {pages} pages reachable from index.html"
    assert any("/losses/cross_entropy.html" in u for u in seen) and any("/_modules/" in u for u in seen)
