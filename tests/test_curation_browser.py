"""Curation in a real browser (Playwright on Debian's Chromium): rename a cluster, move two videos by
selection, merge two clusters, apply the organisation and undo it, checking the files on disk."""

import hashlib
import os
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import TINY
from vindex.store import Store

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


def digests(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path) → its sha256."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def channel_clusters(db) -> dict[str, int]:
    table = Store(str(db)).catalog(["path", "cluster"]).to_pylist()
    return {row["path"].split("/")[0]: row["cluster"] for row in sorted(table, key=lambda r: r["path"], reverse=True)}


@pytest.fixture
def served(corpus, run, isolated_index):
    """`vindex serve --port 0` on a private, clustered copy of the corpus; yields its address."""
    run("add", corpus, *TINY, "-q")
    run("cluster", "--min-size", "4", "--neighbors", "8", "--no-report", "-q")
    with conftest.served() as address:
        yield address


def test_rename_move_merge_organise_and_undo_in_the_browser(served, corpus, isolated_index, tmp_path):
    from playwright.sync_api import sync_playwright

    artifacts = Path(os.environ.get("VINDEX_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    before = digests(corpus)
    clusters = channel_clusters(isolated_index)
    stripes, checker, rings, gradient = (clusters[name] for name in
                                         ("00_stripes", "01_checker", "02_rings", "03_gradient"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda dialog: dialog.accept())

        page.goto(f"{served}/clusters/{stripes}")
        page.click("button.rename")
        page.fill("input.rename-input", "Beach trips")
        with page.expect_navigation():
            page.press("input.rename-input", "Enter")
        assert page.inner_text("h1 .name") == "Beach trips"

        page.wait_for_selector(f"select.move-to option[value='{checker}']", state="attached")
        picked = [page.locator("#members .tile").nth(i).get_attribute("data-path") for i in (0, 1)]
        for i in (0, 1):
            page.locator("#members .tile input.pick").nth(i).check()
        page.select_option("select.move-to", str(checker))
        page.screenshot(path=str(artifacts / "curation-cluster.png"))
        with page.expect_navigation():
            page.click("button.move")
        assert page.locator("#members .tile").count() == 4

        page.goto(f"{served}/clusters/{rings}")
        page.fill("input.merge-ids", str(gradient))
        with page.expect_navigation():
            page.click("button.merge")
        assert page.inner_text(".facts .size") == "12 videos"

        curated = Store(str(isolated_index)).catalog(["id", "cluster"]).to_pylist()
        page.goto(f"{served}/clusters")
        # More than any cluster holds: all noise, the two videos pinned by the move too (their cluster is
        # gone, so the pins follow its videos into the noise rather than keep a cluster of two).
        page.fill("input.min-size", "13")
        page.wait_for_selector("text=preview: 0 clusters, 24 noise (not saved)")
        page.fill("input.min-size", "4")
        page.wait_for_selector("text=preview: 3 clusters")
        area = page.locator("#map").bounding_box()
        page.keyboard.down("Shift")
        page.mouse.move(area["x"] + 2, area["y"] + 2)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=5)
        page.mouse.move(area["x"] + area["width"] - 2, area["y"] + area["height"] - 2, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        assert page.inner_text(".selected-count") == "24 videos selected on the map"
        assert page.url.endswith("/clusters")  # the drag did not open a cluster
        page.screenshot(path=str(artifacts / "curation-clusters.png"))
        assert Store(str(isolated_index)).catalog(["id", "cluster"]).to_pylist() == curated  # nothing saved

        dest = tmp_path / "sorted"
        page.goto(f"{served}/organize?dest={dest}")
        page.click("button.apply")
        page.wait_for_selector("section.organize[data-done=organize]", timeout=60_000)
        assert "24 files done" in page.inner_text(".curate-status")
        page.screenshot(path=str(artifacts / "curation-organize.png"))
        placed = digests(dest)
        assert sorted(placed.values()) == sorted(before.values())  # every file, with its bytes
        folders = {path.split("/")[0] for path in placed}
        assert "Beach trips" in folders and len(folders) == 3
        by_name = {path.split("/")[-1]: path.split("/")[0] for path in placed}
        for path, digest in before.items():
            channel, name = path.split("/")
            if path in picked or channel == "01_checker":
                assert by_name[name].startswith(f"{checker}-"), path
            elif channel == "00_stripes":
                assert by_name[name] == "Beach trips", path
            else:
                assert by_name[name].startswith(f"{rings}-"), path
            assert placed[f"{by_name[name]}/{name}"] == digest

        page.click("button.organize-undo")
        page.wait_for_selector("section.organize[data-done=undo]", timeout=60_000)
        browser.close()
    assert digests(corpus) == before
    assert not dest.exists() or not any(path.is_file() for path in dest.rglob("*"))
