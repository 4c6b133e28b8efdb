"""The dashboard in a real browser (Debian's chromium driven by Playwright): every page draws its
charts without a console error, the period picker and the user selector change the numbers to
what `stats --json` says, a track named like an XSS attack shows as text, the timeline zooms.

Screenshots of every page go to a temporary folder, or to docs/images/ with UPDATE_SCREENSHOTS=1.
With CI=true a missing chromium fails the test (make test installs it); elsewhere it skips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ROOT

from spotify_pipeline.dashboard.views import PAGES

from .conftest import XSS, Dash
from .helpers import stats_json

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "chromium is missing: `make test` installs it (apt-get install chromium chromium-driver)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    p = context.new_page()
    p.problems = []  # console errors, uncaught exceptions, dialogs (an executed alert)
    p.on("console", lambda m: p.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: p.problems.append(f"page error: {e}"))
    p.on("dialog", lambda d: (p.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield p
    context.close()


def _shots() -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "images"
    return Path(os.environ.get("TMPDIR", "/tmp")) / "spotify-pipeline-screenshots"


def _number(page: Any, selector: str) -> int:
    return int(page.text_content(selector).replace(",", ""))


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)
def test_every_page_draws_without_errors(dash: Dash, page: Any) -> None:
    shots = _shots()
    shots.mkdir(parents=True, exist_ok=True)
    for p in PAGES:
        response = page.goto(f"{dash.url.rstrip('/')}{p.path}?period=all")
        assert response.status == 200, p.path
        shapes = page.locator("main svg rect").count()
        if p.name not in ("following", "recommendations"):  # tables first; a list may be empty
            assert shapes > 0, f"{p.path}: no chart drawn"
        assert page.locator("h1").text_content() == p.title
        page.screenshot(
            path=str(shots / f"dashboard-{p.name}.png"), full_page=p.name in ("overview", "clock")
        )
    assert page.problems == []


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)
def test_period_picker_and_user_selector_show_what_stats_says(
    dash: Dash, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.goto(dash.url)  # default: this month, alice
    month = stats_json(dash, monkeypatch, "--period", "month")
    assert _number(page, "#plays") == month["totals"]["plays"]

    with page.expect_navigation():
        page.select_option("#period", "all")
    everything = stats_json(dash, monkeypatch, "--period", "all")
    assert _number(page, "#plays") == everything["totals"]["plays"] != month["totals"]["plays"]
    assert _number(page, "#artists") == everything["totals"]["artists"]

    page.fill("#from", "2026-11-03")
    page.fill("#to", "2026-11-03")
    with page.expect_navigation():
        page.click("#apply")
    day = stats_json(dash, monkeypatch, "--from", "2026-11-03", "--to", "2026-11-03")
    assert _number(page, "#plays") == day["totals"]["plays"] != everything["totals"]["plays"]
    assert "2026-11-03 – 2026-11-03" in page.text_content("#span")

    with page.expect_navigation():
        page.select_option("#period", "all")
    with page.expect_navigation():
        page.select_option("#user", "bob")
    bob = stats_json(dash, monkeypatch, "--period", "all", "--user", "bob")
    assert _number(page, "#plays") == bob["totals"]["plays"] == 7
    page.click("nav >> text=Top")  # the navigation keeps the listener and the period
    assert "user=bob" in page.url and page.locator("#top-tracks td.name").first.text_content() == XSS
    assert page.problems == []


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)
def test_a_hostile_name_is_text_and_the_timeline_zooms(dash: Dash, page: Any) -> None:
    page.goto(f"{dash.url}top?period=all")
    cells = page.locator("#top-tracks td.name")
    assert XSS in cells.all_text_contents()
    assert page.locator("img").count() == 0 and page.locator("main script").count() == 0
    assert XSS in page.locator("main svg title").all_text_contents()[0] or any(
        XSS in t for t in page.locator("main svg title").all_text_contents()
    )
    page.goto(f"{dash.url}timeline?period=all")
    before = page.get_attribute("#timeline", "viewBox")
    page.click("text=Zoom in")
    after = page.get_attribute("#timeline", "viewBox")
    assert before != after and float(after.split()[2]) < float(before.split()[2])
    page.click("text=Whole period")
    assert page.get_attribute("#timeline", "viewBox") == before
    assert page.problems == []
