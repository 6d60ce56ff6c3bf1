"""`vindex serve` in a real browser: Playwright drives Debian's Chromium against a server started
as a subprocess, the way a user starts it."""

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import served
from vindex.cli import cli

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def server(indexed_template, tmp_path):
    """`vindex serve --port 0` on a clustered copy of the session index; yields its address."""
    db = tmp_path / "served.vindex"
    shutil.copytree(indexed_template, db)
    result = CliRunner().invoke(cli, ["cluster", "--db", str(db), "--min-size", "3", "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    with served("--db", str(db)) as address:
        yield address


def test_search_play_at_the_moment_and_open_a_cluster(server, tmp_path):
    from playwright.sync_api import sync_playwright

    artifacts = Path(os.environ.get("VINDEX_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server + "/")
        page.fill("input[name=q]", "colourful stripes")
        page.press("input[name=q]", "Enter")
        page.wait_for_selector("#hits .tile")
        assert page.locator("#hits .tile").count() == 10
        tile = page.locator("#hits .tile").nth(1)
        moment = float(tile.get_attribute("data-t"))
        assert moment > 0  # the matched frame of a 1-2 s clip is past its start
        tile.locator(".play").click()
        # Predicates are functions, not bare expressions: Playwright evals an expression in the page,
        # and the app's Content-Security-Policy forbids eval.
        page.wait_for_function("() => document.querySelector('#player video').dataset.startedAt !== undefined",
                               timeout=30_000)
        started, now = page.evaluate("[Number(document.querySelector('#player video').dataset.startedAt),"
                                     " document.querySelector('#player video').currentTime]")
        assert abs(started - moment) < 0.15
        assert now >= moment - 0.15
        page.screenshot(path=str(artifacts / "serve-player.png"))
        page.keyboard.press("Escape")

        page.goto(server + "/clusters")
        page.wait_for_selector("#map")
        link = page.locator("table.list a").first
        name = link.text_content()
        link.click()
        page.wait_for_selector("#members .tile")
        assert name in page.locator("h1").text_content()
        images = page.locator("#members .tile img")
        page.wait_for_function("() => [...document.querySelectorAll('#members .tile img')].every(i => i.complete)")
        assert images.count() >= 3
        assert page.evaluate("[...document.querySelectorAll('#members .tile img')].every(i => i.naturalWidth > 0)")
        page.screenshot(path=str(artifacts / "serve-cluster.png"))
        browser.close()
    assert (artifacts / "serve-player.png").stat().st_size > 0 and (artifacts / "serve-cluster.png").stat().st_size > 0
