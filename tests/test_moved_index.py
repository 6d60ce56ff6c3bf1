"""An index made beside its videos (`vindex add ./channels` → `./.vindex`) and then moved or copied
together with them covers the videos where they are now: its commands act on those files, never on
the ones at the old place."""

import json
import shutil

import pytest

from tests.conftest import TINY


@pytest.fixture
def project(corpus, run, tmp_path):
    """tmp/project/channels (the corpus) with its index tmp/project/.vindex, as `vindex add` makes it."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.move(corpus, folder / "channels")
    run("add", folder / "channels", "--db", folder / ".vindex", *TINY, "-q")
    return folder


def files(run, db) -> set[str]:
    hits = json.loads(run("query", "a red square", "--db", db, "--limit", "50", "--json").stdout)["hits"]
    return {hit["file"] for hit in hits}


def test_a_copied_project_acts_on_its_own_videos(project, run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    originals = sorted(p.relative_to(project) for p in (project / "channels").rglob("*") if p.is_file())
    summary = json.loads(run("add", copy / "channels", "--db", copy / ".vindex", "--json").stdout)
    assert summary["root"] == str(copy / "channels") and summary["unchanged"] == len(originals)
    assert summary["added"] == summary["removed"] == summary["embedded"] == 0
    assert all(file.startswith(str(copy / "channels") + "/") for file in files(run, copy / ".vindex"))
    run("cluster", "--db", copy / ".vindex", "--min-size", "3", "--neighbors", "8", "--no-report", "-q")
    run("organize", "--db", copy / ".vindex", "--dest", copy / "sorted", "--apply", "-q")
    assert sorted(p.relative_to(project) for p in (project / "channels").rglob("*") if p.is_file()) == originals
    assert not any((copy / "channels").rglob("*.mp4")) and any((copy / "sorted").rglob("*.mp4"))


def test_a_moved_project_follows_its_videos_before_any_add(project, run, tmp_path):
    moved = tmp_path / "moved"
    project.rename(moved)
    info = json.loads(run("info", "--db", moved / ".vindex", "--json").stdout)
    assert info["root"] == str(moved / "channels")
    found = files(run, moved / ".vindex")
    assert found and all(file.startswith(str(moved / "channels") + "/") for file in found)
    run("add", moved / "channels" / "00_stripes", "--db", moved / ".vindex", "-q")  # a folder inside the root


def test_an_index_kept_apart_from_its_videos_keeps_its_root(corpus, run, tmp_path):
    db = tmp_path / "indexes" / "mine" / "videos.vindex"
    run("add", corpus, "--db", db, *TINY, "-q")
    elsewhere = tmp_path / "elsewhere" / "deep" / "videos.vindex"
    elsewhere.parent.mkdir(parents=True)
    shutil.copytree(db, elsewhere)
    assert json.loads(run("info", "--db", elsewhere, "--json").stdout)["root"] == str(corpus)


def test_an_organize_applied_before_a_copy_is_not_undone_from_the_copy(project, run, tmp_path):
    run("cluster", "--db", project / ".vindex", "--min-size", "3", "--neighbors", "8", "--no-report", "-q")
    run("organize", "--db", project / ".vindex", "--dest", project / "sorted", "--apply", "-q")
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    organized = sorted(p.relative_to(project) for p in (project / "sorted").rglob("*.mp4"))
    refused = run("organize", "--db", copy / ".vindex", "--undo", "-q", expect=1)
    assert refused.output.startswith("Error: ") and len(refused.output.strip().splitlines()) == 1
    assert f"was applied to {project / 'channels'}" in refused.output
    assert sorted(p.relative_to(project) for p in (project / "sorted").rglob("*.mp4")) == organized
    run("organize", "--db", project / ".vindex", "--undo", "-q")  # at the old place it undoes as ever
    assert not any((project / "sorted").rglob("*.mp4"))


def test_a_project_opened_through_a_symbolic_link_is_not_a_moved_one(project, run, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(project)
    summary = json.loads(run("add", link / "channels", "--db", link / ".vindex", "--json").stdout)
    assert summary["added"] == summary["removed"] == 0 and summary["unchanged"] > 0
    assert json.loads(run("info", "--db", link / ".vindex", "--json").stdout)["root"] == str(project / "channels")
