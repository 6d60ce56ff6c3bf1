"""`vindex organize`: preview, apply, undo, and surviving kill -9 at any step."""

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from vindex import Index, ModelSpec
from vindex.organizing.fsops import PARTIAL_PREFIX
from vindex.organizing.names import folder_name, safe_name, slug
from vindex.scanning import hash_file
from vindex.store import Store, cluster_schema

# The clustering stage is not organize's: these tests label the index directly, with names
# crafted to attack the folder naming.
NAMES = {0: "Stripes & Co.", 1: "../../etc", 2: "a/b", 3: ""}
FOLDERS = {0: "0-stripes-co", 1: "1-etc", 2: "2-a-b", 3: "cluster_3", -1: "unsorted"}
NEVER_CLUSTERED = "03_gradient/gradient_004.mp4"


def label(path: str) -> int | None:
    """Cluster = channel number; each channel's video 005 is noise; one video was never clustered."""
    if path == NEVER_CLUSTERED:
        return None
    channel, name = path.split("/")
    return -1 if name.endswith("_005.mp4") else int(channel[:2])


def set_clusters(db: Path, names: dict[int, str] = NAMES) -> None:
    store = Store(str(db))
    rows = store.videos.search().limit(None).to_arrow().to_pylist()
    for row in rows:
        row["cluster"] = label(row["path"])
        row["cluster_probability"] = None if row["cluster"] is None else 1.0
    store.upsert_videos(pa.Table.from_pylist(rows, store.videos.schema))
    dim = store.meta.dim
    clusters = [
        {"id": number, "name": name, "size": 5, "centroid": [1.0] + [0.0] * (dim - 1), "exemplars": [], "params": "{}"}
        for number, name in names.items()
    ]
    table = pa.Table.from_pylist(clusters, schema=cluster_schema(dim))
    store.db.create_table("clusters", data=table, mode="overwrite")


@pytest.fixture(scope="module")
def indexed_template(corpus_template, tmp_path_factory) -> Path:
    """The test corpus indexed once for this module (the `indexed` fixture re-embeds per test)."""
    base = tmp_path_factory.mktemp("organize")
    shutil.copytree(corpus_template, base / "channels")
    Index(str(base / "index.vindex")).add(base / "channels", model=ModelSpec("vindex-tiny"))
    return base


@pytest.fixture
def unclustered(indexed_template, tmp_path, isolated_index) -> Path:
    """A private copy of the indexed corpus (mtimes kept, so every file is unchanged)."""
    root = tmp_path / "channels"
    shutil.copytree(indexed_template / "channels", root)
    shutil.copytree(indexed_template / "index.vindex", isolated_index)
    Store(str(isolated_index)).set_meta(root=str(root))
    return root


@pytest.fixture
def library(unclustered, isolated_index) -> Path:
    set_clusters(isolated_index)
    return unclustered


def files_under(*folders: Path) -> dict[str, str]:
    """Absolute path -> content hash of every regular file (symlinks and hidden names left out)."""
    found = {}
    for folder in folders:
        for parent, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                path = os.path.join(parent, name)
                if not name.startswith(".") and os.path.isfile(path) and not os.path.islink(path):
                    found[path] = hash_file(path)
    return found


def relative_layout(root: Path) -> dict[str, str]:
    return {os.path.relpath(path, root): digest for path, digest in files_under(root).items()}


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder` with its type, size and mtime: any change on disk shows."""
    entries = {}
    for parent, dirs, names in os.walk(folder):
        for name in dirs + names:
            info = os.lstat(os.path.join(parent, name))
            entries[os.path.join(parent, name)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return entries


def expected_place(dest: Path, path: str) -> Path:
    return dest / FOLDERS[label(path)] / path.split("/")[1]


def rows(db: Path) -> dict[str, dict]:
    store = Store(str(db))
    return {row["id"]: row for row in store.videos.search().limit(None).to_arrow().to_pylist()}


def assert_index_matches_disk(db: Path) -> None:
    """Every row's path holds a file with the row's size, mtime and content (what `add` calls unchanged)."""
    store = Store(str(db))
    root = store.meta.root
    for row in store.catalog().to_pylist():
        path = os.path.normpath(os.path.join(root, row["path"]))
        info = os.stat(path)
        assert (info.st_size, info.st_mtime_ns) == (row["size"], row["mtime_ns"]), path
        assert hash_file(path) == row["content_hash"], path


def assert_no_partial_files(*folders: Path) -> None:
    for folder in folders:
        assert not [p for p in folder.rglob(f"{PARTIAL_PREFIX}*")], "a half-made copy was left behind"


# -- names ------------------------------------------------------------------------------------

def test_folder_and_file_names_are_sanitised():
    assert folder_name(1, "../../etc") == "1-etc"
    assert folder_name(2, "a/b") == "2-a-b"
    assert folder_name(3, "") == folder_name(3, None) == folder_name(3, "../..") == "cluster_3"
    assert folder_name(-1, "whatever") == "unsorted"
    assert folder_name(4, "Ciel\x00\n\tétoilé  NUIT") == "4-ciel-étoilé-nuit"
    assert len(folder_name(5, "x" * 1000).encode()) <= 110
    assert safe_name("..", "video") == "video"
    assert safe_name(".", "video") == "video"
    assert safe_name(".hidden.mp4", "video") == "_hidden.mp4"
    assert safe_name("a/b\\c\x01.mp4", "video") == "a_b_c_.mp4"
    assert safe_name("CON.mp4", "video") == "_CON.mp4"
    assert safe_name("com1", "video") == "_com1"
    long = safe_name("é" * 300 + ".mp4", "video")
    assert long.endswith(".mp4") and len(long.encode()) <= 255
    assert slug("Stripes & Co.") == "stripes-co"


# -- preview ----------------------------------------------------------------------------------

def test_organize_before_clustering_is_one_clear_error(unclustered, run, tmp_path):
    result = run("organize", "--dest", tmp_path / "out", expect=1)
    assert "run `vindex cluster` first" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_preview_changes_nothing_on_disk(library, run, tmp_path):
    before = snapshot(tmp_path)
    table = run("organize", "--dest", tmp_path / "by_cluster")
    plan = json.loads(run("organize", "--dest", tmp_path / "by_cluster", "--json").stdout)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "by_cluster").exists()
    assert "Preview: move 23 videos" in table.stdout and "add --apply" in table.stdout
    for folder in FOLDERS.values():
        assert folder in table.stdout
    assert len(plan["moves"]) == 23 and plan["left"] == 1
    for move in plan["moves"]:
        path = os.path.relpath(move["source"], library)
        assert move["target"] == str(expected_place(tmp_path / "by_cluster", path))
    assert {f["folder"]: f["files"] for f in plan["folders"]} == {
        "0-stripes-co": 5, "1-etc": 5, "2-a-b": 5, "cluster_3": 4, "unsorted": 4,
    }


# -- apply and undo ---------------------------------------------------------------------------

def test_apply_moves_every_file_and_undo_puts_everything_back(library, run, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    original = relative_layout(library)
    hashes = Counter(original.values())
    vectors = {video: row["vector"] for video, row in rows(isolated_index).items()}

    result = json.loads(run("organize", "--dest", dest, "--apply", "--noise", "keep", "--json").stdout)
    assert result["moved"] == 19 and result["left"] == 5 and not result["skipped"] and not result["failed"]
    for path in original:
        cluster = label(path)
        if cluster is None or cluster < 0:
            assert (library / path).is_file()  # noise kept, never clustered: not moved
        else:
            assert not (library / path).exists()
            assert hash_file(expected_place(dest, path)) == original[path]
    assert Counter(files_under(library, dest).values()) == hashes
    after = rows(isolated_index)
    assert {video: row["vector"] for video, row in after.items()} == vectors  # nothing re-embedded
    assert any(row["path"].startswith("../by_cluster/1-etc/") for row in after.values())
    assert_index_matches_disk(isolated_index)

    again = json.loads(run("add", library, "--json").stdout)
    assert (again["added"], again["reembedded"], again["removed"], again["embedded"]) == (0, 0, 0, 0)
    assert again["unchanged"] == 24  # 5 left in the root, 19 organised out of it and still where the index says
    assert json.loads(run("info", "--json").stdout)["videos"] == 24

    undone = json.loads(run("organize", "--undo", "--json").stdout)
    assert undone["restored"] == 19 and not undone["failed"]
    assert relative_layout(library) == original
    assert not dest.exists()  # every folder it made was removed again
    assert Counter(files_under(library, tmp_path / "by_cluster").values()) == hashes
    assert_index_matches_disk(isolated_index)
    assert json.loads(run("add", library, "--json").stdout)["unchanged"] == 24
    run("organize", "--undo", expect=1)  # nothing left to undo


def test_dest_inside_the_root_is_not_indexed_twice(library, run, isolated_index):
    dest = library / "by_cluster"
    result = json.loads(run("organize", "--dest", dest, "--apply", "--json").stdout)
    assert result["moved"] == 23
    assert_index_matches_disk(isolated_index)
    again = json.loads(run("add", library, "--json").stdout)
    assert (again["unchanged"], again["added"], again["renamed"], again["removed"], again["embedded"]) == (24, 0, 0, 0, 0)
    channels = {row["channel"] for row in rows(isolated_index).values()}
    assert channels == {"00_stripes", "01_checker", "02_rings", "03_gradient"}  # a video keeps its channel
    # Files already in place are not planned again, nor given a suffix against themselves.
    plan = json.loads(run("organize", "--dest", dest, "--json").stdout)
    assert plan["moves"] == [] and plan["in_place"] == 23
    rerun = json.loads(run("organize", "--dest", dest, "--apply", "--json").stdout)
    assert rerun["moved"] == 0 and rerun["journal"] is None


def test_a_taken_name_gets_a_numbered_suffix_and_nothing_is_overwritten(library, run, tmp_path):
    dest = tmp_path / "by_cluster"
    precious = dest / "0-stripes-co" / "stripes_000.mp4"
    precious.parent.mkdir(parents=True)
    precious.write_bytes(b"not a video, but someone's file")
    plan = json.loads(run("organize", "--dest", dest, "--json").stdout)
    assert [m["target"] for m in plan["moves"] if m["suffixed"]] == [str(precious.with_name("stripes_000-1.mp4"))]
    original = hash_file(str(library / "00_stripes/stripes_000.mp4"))
    output = run("organize", "--dest", dest, "--apply").stdout
    assert "1 took a numbered name" in output and "stripes_000-1.mp4" in output
    assert precious.read_bytes() == b"not a video, but someone's file"
    assert hash_file(str(precious.with_name("stripes_000-1.mp4"))) == original
    run("organize", "--undo")
    assert hash_file(str(library / "00_stripes/stripes_000.mp4")) == original
    assert precious.read_bytes() == b"not a video, but someone's file"


def test_crafted_cluster_names_stay_inside_dest(library, run, tmp_path, isolated_index):
    set_clusters(isolated_index, {0: "../../../outside", 1: "/etc/passwd", 2: "..", 3: "\x00\n../x"})
    dest = tmp_path / "deep" / "by_cluster"
    before = set(snapshot(tmp_path))
    run("organize", "--dest", dest, "--apply")
    created = {path for path in set(snapshot(tmp_path)) - before if not Path(path).is_relative_to(isolated_index)}
    assert created and all(Path(path).is_relative_to(dest) or Path(path) == dest.parent for path in created)
    assert sorted(p.name for p in dest.iterdir()) == ["0-outside", "1-etc-passwd", "3-x", "cluster_2", "unsorted"]


def test_changed_and_symlinked_files_are_skipped_and_listed(library, run, tmp_path):
    changed = library / "01_checker" / "checker_002.mp4"
    with open(changed, "ab") as handle:
        handle.write(b"edited after indexing")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    dest = tmp_path / "by_cluster"
    dest.mkdir()
    (dest / "2-a-b").symlink_to(outside, target_is_directory=True)
    preview = run("organize", "--dest", dest).stdout
    assert f"skip {changed}: changed since it was indexed" in preview
    assert "2-a-b is a symlink (not followed)" in preview
    result = json.loads(run("organize", "--dest", dest, "--apply", "--json").stdout)
    skipped = {os.path.relpath(s["path"], library) for s in result["skipped"]}
    assert skipped == {"01_checker/checker_002.mp4"} | {f"02_rings/rings_00{i}.mp4" for i in range(5)}
    assert changed.exists() and not list(outside.iterdir())
    assert result["moved"] == 23 - 6


def test_keep_channel_and_copy_mode(library, run, tmp_path, isolated_index):
    dest = library / "copies"  # inside the root: the copies get index rows of their own
    before = relative_layout(library)
    result = json.loads(run("organize", "--dest", dest, "--apply", "--copy", "--keep-channel", "--json").stdout)
    assert result["moved"] == 23
    for path, digest in before.items():
        assert hash_file(str(library / path)) == digest  # the originals stay
        if label(path) is not None:
            channel, name = path.split("/")
            assert hash_file(str(dest / FOLDERS[label(path)] / channel / name)) == digest
    again = json.loads(run("add", library, "--json").stdout)
    assert (again["unchanged"], again["added"], again["embedded"], again["removed"]) == (47, 0, 0, 0)
    # A second copy run finds its copies already there instead of piling up numbered ones.
    assert json.loads(run("organize", "--dest", dest, "--apply", "--copy", "--keep-channel", "--json").stdout)["moved"] == 0
    run("organize", "--undo")
    assert relative_layout(library) == before
    assert len(rows(isolated_index)) == 24


def test_link_mode_makes_hard_links_and_undo_removes_them(library, run, tmp_path):
    dest = tmp_path / "links"
    run("organize", "--dest", dest, "--apply", "--link")
    source = library / "00_stripes" / "stripes_001.mp4"
    assert os.path.samefile(source, dest / "0-stripes-co" / "stripes_001.mp4")
    run("organize", "--undo")
    assert source.is_file() and not dest.exists()


def other_filesystem(tmp_path: Path) -> Path | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and os.stat(shm).st_dev != os.stat(tmp_path).st_dev:
        return shm
    return None


@pytest.fixture
def foreign_dest(tmp_path):
    """A --dest on another filesystem, where a move is copy + verify + delete."""
    shm = other_filesystem(tmp_path)
    if shm is None:
        pytest.skip("no second filesystem (/dev/shm) here")
    dest = shm / f"vindex-test-{os.getpid()}-{tmp_path.name}" / "by_cluster"
    yield dest
    shutil.rmtree(dest.parent, ignore_errors=True)


def test_move_across_filesystems_copies_verifies_and_deletes(library, run, foreign_dest, isolated_index):
    original = relative_layout(library)
    mtime = os.stat(library / "00_stripes" / "stripes_000.mp4").st_mtime_ns
    run("organize", "--dest", foreign_dest, "--apply", "--noise", "keep")
    moved = foreign_dest / "0-stripes-co" / "stripes_000.mp4"
    assert os.stat(moved).st_mtime_ns == mtime and not (library / "00_stripes" / "stripes_000.mp4").exists()
    assert Counter(files_under(library, foreign_dest).values()) == Counter(original.values())
    assert_index_matches_disk(isolated_index)
    assert_no_partial_files(foreign_dest)
    run("organize", "--undo")
    assert relative_layout(library) == original
    assert_index_matches_disk(isolated_index)


def test_a_copy_that_does_not_verify_keeps_the_source(library, run, foreign_dest):
    # Same size and mtime as indexed, other bytes: only the hash check of the copy can tell.
    tampered = library / "02_rings" / "rings_001.mp4"
    info = os.stat(tampered)
    data = bytearray(tampered.read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    os.utime(tampered, ns=(info.st_atime_ns, info.st_mtime_ns))
    original = relative_layout(library)
    skipped = json.loads(run("organize", "--dest", foreign_dest, "--apply", "--noise", "keep", "--json").stdout)["skipped"]
    assert skipped == [{"path": str(tampered), "reason": "its content differs from the index (run `vindex add` first)"}]
    assert hash_file(str(tampered)) == original["02_rings/rings_001.mp4"]
    assert_no_partial_files(foreign_dest)
    run("organize", "--undo")
    assert relative_layout(library) == original


def test_bad_destinations_are_refused(library, run, tmp_path, isolated_index):
    assert "inside the index folder" in run("organize", "--dest", isolated_index / "x", expect=1).stderr
    assert "hidden folder" in run("organize", "--dest", library / ".sorted", expect=1).stderr
    (tmp_path / "afile").write_text("x")
    assert "is a file" in run("organize", "--dest", tmp_path / "afile", expect=1).stderr
    assert "nothing to undo" in run("organize", "--undo", expect=1).stderr


def test_apply_to_a_dest_where_no_folder_can_be_made_is_one_error_and_moves_nothing(library, run):
    before = sorted(path for path in library.rglob("*") if path.is_file())
    failed = run("organize", "--dest", "/proc/vindex-sorted", "--apply", expect=1)
    assert failed.stderr.count("\n") == 1 and "cannot create folders in /proc" in failed.stderr, failed.stderr
    assert sorted(path for path in library.rglob("*") if path.is_file()) == before
    assert "nothing to undo" in run("organize", "--undo", expect=1).stderr


# -- kill -9 ----------------------------------------------------------------------------------

# Run in a process of its own: organises (or, without a dest, undoes) through the library with a
# checkpoint that SIGKILLs the process the COUNTth time it reaches POINT.
KILLED_RUN = """
import os, signal, sys
from vindex import Index, organizing
from vindex.organizing import runner

point, count, batch, dest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if batch:
    runner.STEP_BATCH = batch
reached = 0

def crash_at(name):
    global reached
    if name == point:
        reached += 1
        if reached == count:
            os.kill(os.getpid(), signal.SIGKILL)

store = Index().store
if dest:
    organizing.apply(store, dest, checkpoint=crash_at)
else:
    organizing.undo(store, checkpoint=crash_at)
"""


def killed_run(folder: Path, crash: str, dest: Path | None = None, batch: int | None = None) -> subprocess.CompletedProcess:
    """An organize (or, without `dest`, an undo) in a real process, killed at `crash` ("POINT:COUNT");
    `batch` sets how many steps share a journal fsync."""
    script = folder / "killed_run.py"
    script.write_text(KILLED_RUN)
    point, _, count = crash.partition(":")
    command = [sys.executable, str(script), point, count or "1", str(batch or 0), str(dest or "")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def assert_organized(library: Path, dest: Path, original: dict[str, str], db: Path) -> None:
    for path, digest in original.items():
        if label(path) is None:
            assert hash_file(str(library / path)) == digest
        else:
            assert not (library / path).exists() and hash_file(str(expected_place(dest, path))) == digest
    assert Counter(files_under(library, dest).values()) == Counter(original.values())
    assert_no_partial_files(dest)
    assert_index_matches_disk(db)


def assert_restored(library: Path, dest: Path, original: dict[str, str], db: Path) -> None:
    assert relative_layout(library) == original
    if dest.exists():
        assert not files_under(dest)
    assert_no_partial_files(library)
    assert_index_matches_disk(db)


# (checkpoint, steps per journal batch, dest on another filesystem, files in dest when killed,
#  a partial copy left, files in all)
CRASHES = [
    ("before-transfer:1", None, False, 0, False, 24),  # all journaled as started, no file touched yet
    ("after-transfer:7", None, False, 7, False, 24),  # 7 renamed, none journaled as done
    ("after-transfer:12", 5, False, 12, False, 24),  # 10 done in two batches, 2 renamed in the third
    ("after-index:1", None, False, 23, False, 24),  # all moved and indexed, not marked complete
    ("mid-copy:3", None, True, 2, True, 24),  # half a copy on the other filesystem
    ("before-unlink:4", None, True, 4, False, 25),  # verified copy in place, source not deleted yet
]


@pytest.mark.slow
@pytest.mark.parametrize("finish", ["apply", "undo"])
@pytest.mark.parametrize("crash,batch,across,in_dest,partial,in_all", CRASHES)
def test_killed_apply_can_be_finished_or_undone(library, run, tmp_path, isolated_index, request,
                                                crash, batch, across, in_dest, partial, in_all, finish):
    dest = request.getfixturevalue("foreign_dest") if across else tmp_path / "by_cluster"
    original = relative_layout(library)
    killed = killed_run(tmp_path, crash, dest, batch)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(files_under(dest)) == in_dest
    assert bool(list(dest.rglob(f"{PARTIAL_PREFIX}*"))) == partial
    survivors = Counter(files_under(library, dest).values())
    assert sum(survivors.values()) == in_all
    assert all(survivors[digest] >= count for digest, count in Counter(original.values()).items())
    assert "was interrupted" in run("organize", "--dest", dest, expect=1).stderr
    assert "was interrupted" in run("add", library, expect=1).stderr  # it would drop files in flight

    if finish == "apply":
        assert "finished the interrupted organize" in run("organize", "--dest", dest, "--apply").stdout
        assert_organized(library, dest, original, isolated_index)
    run("organize", "--undo")
    assert_restored(library, dest, original, isolated_index)


@pytest.mark.slow
def test_killed_undo_can_be_finished(library, run, tmp_path, isolated_index):
    dest = tmp_path / "by_cluster"
    original = relative_layout(library)
    run("organize", "--dest", dest, "--apply")
    killed = killed_run(tmp_path, "after-transfer:9", batch=4)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert Counter(files_under(library, dest).values()) == Counter(original.values())
    assert "undo was interrupted" in run("organize", "--dest", dest, "--apply", expect=1).stderr
    run("organize", "--undo")
    assert_restored(library, dest, original, isolated_index)
