"""`vindex organize` against a world that changes under it: files replaced before an undo,
source folders it empties, folders swapped for symlinks mid-run, a damaged journal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_organize import (  # noqa: F401  (fixtures: indexed_template, unclustered, library)
    FOLDERS, assert_index_matches_disk, expected_place, indexed_template, library, relative_layout, rows, unclustered,
)
from vindex import Index, organizing
from vindex.scanning import hash_file


def folders_under(folder: Path) -> set[Path]:
    """`folder` and every folder below it (symlinks left out)."""
    found = {folder} if folder.is_dir() else set()
    for parent, dirs, _ in os.walk(folder):
        found.update(Path(parent, name) for name in dirs if not Path(parent, name).is_symlink())
    return found


def row_of(db: Path, path: str) -> dict:
    return next(row for row in rows(db).values() if row["path"].endswith(path))


# -- undo checks that the file it moves back is the one it moved ----------------------------------

def test_undo_leaves_a_file_that_replaced_a_moved_one_where_it_is(library, run, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    original = relative_layout(library)
    run("organize", "--dest", dest, "--apply")
    video = row_of(isolated_index, "checker_002.mp4")["id"]
    twin = row_of(isolated_index, "rings_003.mp4")["id"]
    # A file of the user's own where a moved file was, and one crafted to the moved file's size
    # and mtime (only its content tells it apart).
    stranger = expected_place(dest, "01_checker/checker_002.mp4")
    stranger.unlink()
    stranger.write_bytes(b"someone else's file")
    lookalike = expected_place(dest, "02_rings/rings_003.mp4")
    info = os.stat(lookalike)
    data = bytearray(lookalike.read_bytes())
    data[len(data) // 2] ^= 0xFF
    lookalike.unlink()
    lookalike.write_bytes(bytes(data))
    os.utime(lookalike, ns=(info.st_atime_ns, info.st_mtime_ns))
    # A moved file that was only touched is still the same file: it goes back.
    touched = expected_place(dest, "00_stripes/stripes_001.mp4")
    os.utime(touched, ns=(info.st_atime_ns, os.stat(touched).st_mtime_ns + 10**9))

    undone = run("organize", "--undo")
    assert f"not restored {stranger}: a different file is there now" in undone.stderr
    assert f"not restored {lookalike}: a different file is there now" in undone.stderr
    assert "restored 21 videos" in undone.stdout and "2 failed" in undone.stdout
    assert stranger.read_bytes() == b"someone else's file"  # never moved, never overwritten
    assert lookalike.read_bytes() == bytes(data)
    assert not (library / "01_checker/checker_002.mp4").exists()
    assert not (library / "02_rings/rings_003.mp4").exists()
    assert hash_file(str(library / "00_stripes/stripes_001.mp4")) == original["00_stripes/stripes_001.mp4"]
    # The index does not take the strangers for the originals: the rows go back to where the
    # originals were (gone, which the next `vindex add` sees), not to the strangers.
    after = rows(isolated_index)
    assert after[video]["path"] == "01_checker/checker_002.mp4"
    assert after[twin]["path"] == "02_rings/rings_003.mp4"
    assert not any(row["path"].startswith("../by_cluster/") for row in after.values())
    added = json.loads(run("add", library, "--json").stdout)
    assert added["removed"] == 2 and added["unchanged"] == 22


# -- source folders emptied by an apply -----------------------------------------------------------

def test_apply_removes_the_source_folders_it_emptied_and_undo_recreates_them(library, run, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    (library / "02_rings" / "notes.txt").write_text("the user's own file")  # keeps its folder
    (library / "empty").mkdir()  # empty before the apply, never a source: not the apply's to remove
    original = relative_layout(library)
    before = folders_under(library)

    applied = json.loads(run("organize", "--dest", dest, "--apply", "--json").stdout)
    removed = before - folders_under(library)
    assert removed == {library / "00_stripes", library / "01_checker"}
    assert applied["folders_removed"] == len(removed)
    assert library.is_dir() and (library / "empty").is_dir() and (library / "02_rings").is_dir()
    assert (library / "03_gradient").is_dir()  # its never-clustered video stays
    assert_index_matches_disk(isolated_index)

    made = folders_under(dest)
    undone = json.loads(run("organize", "--undo", "--json").stdout)
    assert relative_layout(library) == original
    assert folders_under(library) == before
    assert undone["folders_created"] == len(removed)
    assert undone["folders_removed"] == len(made - folders_under(dest)) == len(made) == 1 + len(FOLDERS)
    assert not dest.exists()
    assert_index_matches_disk(isolated_index)


def test_the_human_summaries_count_the_folders(library, run, tmp_path):
    dest = tmp_path / "by_cluster"
    applied = run("organize", "--dest", dest, "--apply").stdout
    assert "3 emptied source folders removed" in applied
    undone = run("organize", "--undo").stdout
    assert "6 empty folders removed" in undone and "3 source folders recreated" in undone


# -- a folder swapped for a symlink between the check and the move --------------------------------

def test_a_cluster_folder_swapped_for_a_symlink_mid_run_sends_nothing_outside_dest(library, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    outside = tmp_path / "outside"
    outside.mkdir()
    cluster = dest / FOLDERS[0]
    swapped = []

    def swap_after_the_check(point: str) -> None:
        # The target folders are checked and created by now; nothing was moved yet.
        if point == "before-transfer" and not swapped:
            cluster.rmdir()
            cluster.symlink_to(outside, target_is_directory=True)
            swapped.append(point)

    result = organizing.apply(Index(str(isolated_index)).store, dest, checkpoint=swap_after_the_check)
    assert swapped
    assert list(outside.iterdir()) == []
    stripes = {str(library / "00_stripes" / f"stripes_00{number}.mp4") for number in range(5)}
    assert {failed.path for failed in result.failed} == stripes
    assert all("symlink" in failed.reason for failed in result.failed)
    assert all(os.path.isfile(path) for path in stripes)  # they stay where they were
    assert result.moved == 23 - 5
    assert_index_matches_disk(isolated_index)
    undone = organizing.undo(Index(str(isolated_index)).store)
    assert undone.restored == 18 and not undone.failed
    assert list(outside.iterdir()) == []


def test_a_source_folder_swapped_for_a_symlink_mid_run_moves_nothing_from_elsewhere(library, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    elsewhere = tmp_path / "elsewhere"
    channel = library / "01_checker"
    swapped = []

    def swap_after_the_check(point: str) -> None:
        if point == "before-transfer" and not swapped:
            channel.rename(elsewhere)
            channel.symlink_to(elsewhere, target_is_directory=True)
            swapped.append(point)

    result = organizing.apply(Index(str(isolated_index)).store, dest, checkpoint=swap_after_the_check)
    assert swapped
    assert sorted(os.listdir(elsewhere)) == [f"checker_00{number}.mp4" for number in range(6)]
    assert {failed.path for failed in result.failed} == {str(channel / f"checker_00{number}.mp4") for number in range(6)}
    assert result.moved == 23 - 6


# -- a damaged journal ------------------------------------------------------------------------------

def damage_the_middle(journal: Path) -> None:
    """Tear the line that ends the plan: the journal can no longer say which files it planned (a
    single bad planned file or event is set aside alone: tests/test_organize_journal.py)."""
    lines = journal.read_bytes().split(b"\n")
    end = next(number for number, line in enumerate(lines) if b"end_of_plan" in line)
    lines[end] = b'{"end_of_pl'
    journal.write_bytes(b"\n".join(lines))


def test_a_journal_damaged_in_its_middle_is_set_aside_and_add_still_runs(library, run, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    run("organize", "--dest", dest, "--apply")
    journal = isolated_index / "organize" / "0001.jsonl"
    damage_the_middle(journal)

    result = run("add", library, "--json")
    added = json.loads(result.stdout)
    assert added["unchanged"] == 24 and added["removed"] == 0
    aside = list(journal.parent.glob("0001.jsonl.damaged-*"))
    assert len(aside) == 1 and not journal.exists()
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and f"moved to {aside[0]}" in warning[0] and str(journal) in warning[0]

    undo = run("organize", "--undo", expect=1).stderr
    assert len(undo.strip().splitlines()) == 1
    assert "nothing to undo" in undo and str(aside[0]) in undo
    # A new organize is numbered after the damaged one and can be undone as usual.
    assert json.loads(run("organize", "--dest", tmp_path / "again", "--apply", "--json").stdout)["moved"] == 23
    assert (journal.parent / "0002.jsonl").exists()
    assert json.loads(run("organize", "--undo", "--json").stdout)["restored"] == 23
    assert str(aside[0]) in run("organize", "--undo", expect=1).stderr


def test_a_damaged_journal_found_by_undo_is_one_line(library, run, tmp_path, isolated_index):
    run("organize", "--dest", tmp_path / "by_cluster", "--apply")
    damage_the_middle(isolated_index / "organize" / "0001.jsonl")
    undo = run("organize", "--undo", expect=1)
    assert len(undo.stderr.strip().splitlines()) == 1
    assert "nothing to undo" in undo.stderr and "damaged" in undo.stderr


@pytest.mark.slow
def test_the_command_line_prints_the_damaged_journal_warning(library, run, tmp_path, isolated_index):
    run("organize", "--dest", tmp_path / "by_cluster", "--apply")
    damage_the_middle(isolated_index / "organize" / "0001.jsonl")
    added = subprocess.run([sys.executable, "-m", "vindex", "add", str(library), "-q"], capture_output=True, text=True,
                           timeout=300)
    assert added.returncode == 0, added.stderr
    aside = next((isolated_index / "organize").glob("0001.jsonl.damaged-*"))
    assert f"moved to {aside}" in added.stderr
