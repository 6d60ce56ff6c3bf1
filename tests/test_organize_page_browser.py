"""The organise page after Apply: the preview of before is gone, not left saying nothing has changed."""

import os

import pytest

from tests import conftest
from tests.conftest import TINY

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


def test_after_apply_the_page_no_longer_shows_the_preview_of_before(corpus, run, isolated_index, tmp_path):
    from playwright.sync_api import sync_playwright

    run("add", corpus, *TINY, "-q")
    run("cluster", "--min-size", "4", "--neighbors", "8", "--no-report", "-q")
    with conftest.served() as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{served}/organize?dest={tmp_path / 'sorted'}")
        assert page.is_visible("p.summary") and "Nothing changes until you press Apply" in page.inner_text("main")
        page.click("button.apply")
        page.wait_for_selector("section.organize[data-done=organize]", timeout=60_000)
        assert not page.is_visible("p.summary") and not page.is_visible("table.list")
        assert "Nothing changes until you press Apply" not in page.inner_text("main")
        assert "Press Preview to see the plan from here" in page.inner_text(".curate-status")
        browser.close()
    run("organize", "--undo", "-q")
