"""`vindex add` against what a real collection holds: folders it may not
read, file names that are not UTF-8, failures that pass on their own, files that turn into junk.

Permission cases run `add` as another user (uid 65534) when the tests run as root, who reads
everything: a `chmod` alone would prove nothing.
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import vindex
from tests.conftest import TINY
from vindex.demo import make_corpus
from vindex.errors import DecodeError
from vindex.indexing import pipeline
from vindex.locations import disk_path, shown_path, stored_path
from vindex.store import Store

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
ODD_NAME = b"caf\xe9 \xff.mp4"  # Latin-1 "é" and a byte that no UTF-8 text holds
SHOWN_ODD_NAME = "caf\ufffd \ufffd.mp4"

pytestmark = pytest.mark.skipif(bool(NOBODY) and not shutil.which("setpriv"), reason="needs setpriv to drop root")


@pytest.fixture
def shared():
    """A folder the unprivileged user may enter (pytest's own base folder is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="vindex-reliability-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def library(shared, corpus_template, indexed_template) -> tuple[Path, Path]:
    """The indexed session corpus, copied (mtimes kept: every file unchanged) into `shared`."""
    root, db = shared / "channels", shared / "index.vindex"
    shutil.copytree(corpus_template, root)
    shutil.copytree(indexed_template, db)
    Store(str(db)).set_meta(root=str(root))
    return root, db


def open_to_everyone(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def python_as_nobody(*arguments: str, home: Path, expect_ok: bool = True) -> subprocess.CompletedProcess:
    """Python run by an unprivileged user, in a process of its own, with this vindex."""
    env = {key: value for key, value in os.environ.items() if key != "VINDEX_DB"}
    env.update(HOME=str(home), VINDEX_CACHE=str(home / "cache"), PYTHONPATH=str(Path(vindex.__file__).parents[1]))
    result = subprocess.run([*NOBODY, sys.executable, *arguments], capture_output=True, text=True, env=env,
                            cwd=home, timeout=300)
    assert (result.returncode == 0) == expect_ok, result.stderr
    return result


def add_as_nobody(folder: Path, db: Path, *options: str) -> subprocess.CompletedProcess:
    return python_as_nobody("-m", "vindex", "add", str(folder), "--db", str(db), "-q", *options, home=db.parent)


def fresh_video(tmp_path: Path, seed: int) -> bytes:
    """The bytes of a video whose content no other test file has."""
    (made,) = make_corpus(tmp_path / f"fresh{seed}", 1, 1, seed=seed, size=(96, 72), seconds=(1.0, 1.5), fps=10)
    return made.read_bytes()


def rows(db: Path) -> dict[str, dict]:
    table = Store(str(db)).videos.to_arrow().to_pylist()
    return {row["path"]: row for row in table}


# -- an unreadable folder is not a deleted one --------------------------------------------
@pytest.mark.parametrize("mode", [0o000, 0o444], ids=["unlistable", "not-enterable"])
def test_unreadable_folder_keeps_its_rows_and_labels_and_is_listed(library, mode):
    root, db = library
    store = Store(str(db))
    store.update_rows({row["id"]: {"cluster": number % 3, "cluster_probability": 0.5}
                       for number, row in enumerate(store.catalog(["id"]).to_pylist())})
    before = rows(db)
    open_to_everyone(root.parent)
    (root / "01_checker").chmod(mode)

    summary = json.loads(add_as_nobody(root, db, "--json").stdout)
    assert (summary["removed"], summary["embedded"], summary["added"]) == (0, 0, 0)
    assert summary["unreadable_folders"] == [{"path": "01_checker", "reason": "Permission denied", "videos_kept": 6}]
    if mode == 0o000:
        human = add_as_nobody(root, db)
        assert "warning: could not read folder 01_checker: Permission denied (its 6 videos are kept)" in human.stderr
    after = rows(db)
    assert after.keys() == before.keys()
    for path, row in before.items():
        assert (after[path]["id"], after[path]["cluster"]) == (row["id"], row["cluster"])
        assert np.array_equal(after[path]["vector"], row["vector"])

    (root / "01_checker").chmod(0o777)
    again = vindex.Index(str(db)).add(root)
    assert (again.embedded, again.removed, again.unchanged, again.unreadable_folders) == (0, 0, 24, [])


def test_adding_an_unreadable_folder_is_refused_and_keeps_every_row(library):
    root, db = library
    open_to_everyone(root.parent)
    (root / "02_rings").chmod(0)
    script = f"from vindex import Index; Index({str(db)!r}).add({str(root / '02_rings')!r})"
    result = python_as_nobody("-c", script, home=db.parent, expect_ok=False)
    assert f"VindexError: cannot read folder {root / '02_rings'}: Permission denied" in result.stderr and "Permission denied" in result.stderr
    assert len(rows(db)) == 24


# -- names that are not UTF-8 ---------------------------------------------------------------
def test_stored_paths_round_trip_every_byte():
    every_byte = bytes(range(1, 256)).replace(b"/", b"")
    name = os.fsdecode(every_byte)
    stored = stored_path(name)
    stored.encode("utf-8")  # valid UTF-8: LanceDB and JSON take it
    assert disk_path(stored) == name and os.fsencode(disk_path(stored)) == every_byte
    assert stored_path("plain/é.mp4") == "plain/é.mp4" == disk_path("plain/é.mp4")
    assert shown_path(stored_path(os.fsdecode(ODD_NAME))) == SHOWN_ODD_NAME == shown_path(os.fsdecode(ODD_NAME))


def test_file_name_that_is_not_utf8_is_indexed_searched_and_followed(corpus, run, tmp_path):
    folder = os.fsencode(corpus / "02_rings")
    odd = os.path.join(folder, ODD_NAME)
    descriptor = os.open(odd, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(descriptor, fresh_video(tmp_path, seed=11))
    os.close(descriptor)

    summary = json.loads(run("add", corpus, *TINY, "-q", "--json").stdout)
    assert (summary["added"], summary["failed"]) == (25, [])
    stored = "02_rings/" + stored_path(os.fsdecode(ODD_NAME))
    db = Path(os.environ["VINDEX_DB"])
    assert stored in rows(db)

    similar = json.loads(run("similar", os.fsdecode(odd), "--limit", "30", "--json").stdout)
    assert similar["source"] == "index" and len(similar["hits"]) == 24
    table = run("query", "rings", "--limit", "30").stdout
    assert f"02_rings/{SHOWN_ODD_NAME}" in table
    hits = json.loads(run("query", "rings", "--limit", "30", "--json").stdout)["hits"]
    assert f"02_rings/{SHOWN_ODD_NAME}" in [hit["path"] for hit in hits]

    again = json.loads(run("add", corpus, "-q", "--json").stdout)
    assert (again["unchanged"], again["added"], again["embedded"]) == (25, 0, 0)

    video = rows(db)[stored]["id"]
    os.rename(odd, os.path.join(folder, b"caf\xe9 2.mp4"))
    moved = json.loads(run("add", corpus, "-q", "--json").stdout)
    assert (moved["renamed"], moved["embedded"], moved["removed"]) == (1, 0, 0)
    assert rows(db)["02_rings/caf\x00e9 2.mp4"]["id"] == video


def test_a_file_name_that_is_not_utf8_can_be_named_to_export_and_to_move(corpus, run, tmp_path):
    odd = os.path.join(os.fsencode(corpus / "02_rings"), ODD_NAME)
    with open(odd, "wb") as out:
        out.write(fresh_video(tmp_path, seed=11))
    run("add", corpus, *TINY, "-q")
    run("cluster", "--min-size", "3", "--neighbors", "8", "--no-report", "-q")
    cluster = str(json.loads(run("show", "--json").stdout)[0]["id"])
    # A real path, then a path under the root; each moves the video (to the noise, then back).
    for named, to in ((os.fsdecode(odd), "noise"), ("02_rings/" + os.fsdecode(ODD_NAME), cluster)):
        made = json.loads(run("export", named, "--at", "0.5", "--out", tmp_path / "out", "--json").stdout)
        assert made["path"] == f"02_rings/{SHOWN_ODD_NAME}" and Path(made["still"]).is_file()
        assert json.loads(run("cluster", "move", named, "--to", to, "--json").stdout)["videos"] == 1


# -- failures that may pass on their own are tried again ------------------------------------
def test_unreadable_file_is_tried_again_once_readable(library, tmp_path):
    root, db = library
    open_to_everyone(root.parent)
    locked = root / "00_stripes" / "locked.mp4"
    locked.write_bytes(fresh_video(tmp_path, seed=12))
    changed = root / "03_gradient" / sorted(os.listdir(root / "03_gradient"))[0]
    changed_id = rows(db)[f"03_gradient/{changed.name}"]["id"]
    changed.write_bytes(fresh_video(tmp_path, seed=13))
    locked.chmod(0)
    changed.chmod(0)

    summary = json.loads(add_as_nobody(root, db, "--json").stdout)
    failed = {failure["path"]: failure for failure in summary["failed"]}
    assert failed["00_stripes/locked.mp4"]["reason"] == "unreadable: Permission denied"
    assert failed["00_stripes/locked.mp4"]["transient"] is True
    # It changed since it was indexed, so its old vectors are not what the file holds any more.
    assert f"03_gradient/{changed.name}" in failed and changed_id not in {r["id"] for r in rows(db).values()}

    locked.chmod(0o644)
    changed.chmod(0o644)
    again = vindex.Index(str(db)).add(root)
    assert (again.added, again.embedded, again.failed) == (2, 2, [])
    assert {"00_stripes/locked.mp4", f"03_gradient/{changed.name}"} <= rows(db).keys()


def test_io_errors_while_decoding_are_not_remembered(corpus, run, monkeypatch, tmp_path):
    flaky = corpus / "01_checker" / "flaky.mp4"
    flaky.write_bytes(fresh_video(tmp_path, seed=14))
    real_read = pipeline.read_frames

    def failing_read(path, *args, **kwargs):
        if os.path.basename(path) == flaky.name:
            raise DecodeError(os.strerror(errno.EIO))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_frames", failing_read)
    first = json.loads(run("add", corpus, *TINY, "-q", "--json").stdout)
    assert [(f["path"], f["transient"]) for f in first["failed"]] == [("01_checker/flaky.mp4", True)]
    monkeypatch.setattr(pipeline, "read_frames", real_read)
    again = json.loads(run("add", corpus, "-q", "--json").stdout)
    assert (again["added"], again["failed"]) == (1, [])


def test_retry_failed_decodes_remembered_failures_again(corpus, run, monkeypatch):
    (corpus / "00_stripes" / "junk.mp4").write_bytes(np.random.default_rng(1).bytes(20000))
    decoded = []
    real_read = pipeline.read_frames
    monkeypatch.setattr(pipeline, "read_frames", lambda path, *a, **k: decoded.append(path) or real_read(path, *a, **k))
    first = json.loads(run("add", corpus, *TINY, "-q", "--json").stdout)
    assert [(f["path"], f["transient"]) for f in first["failed"]] == [("00_stripes/junk.mp4", False)]
    decoded.clear()
    remembered = json.loads(run("add", corpus, "-q", "--json").stdout)
    assert len(remembered["failed"]) == 1 and decoded == []  # unchanged junk is not decoded again
    retried = json.loads(run("add", corpus, "-q", "--json", "--retry-failed").stdout)
    assert [f["path"] for f in retried["failed"]] == ["00_stripes/junk.mp4"]
    assert [os.path.basename(path) for path in decoded] == ["junk.mp4"]


# -- a file that turned into junk leaves the index ------------------------------------------
def test_changed_file_that_no_longer_decodes_leaves_the_index(indexed, run):
    db = Path(os.environ["VINDEX_DB"])
    victim = indexed / "02_rings" / "rings_001.mp4"
    video = rows(db)["02_rings/rings_001.mp4"]["id"]
    victim.write_bytes(np.random.default_rng(2).bytes(30000))

    summary = json.loads(run("add", indexed, "-q", "--json").stdout)
    assert [f["path"] for f in summary["failed"]] == ["02_rings/rings_001.mp4"]
    assert "02_rings/rings_001.mp4" not in rows(db)
    assert Store(str(db)).frames_by_video([video]).num_rows == 0
    for command in (["query", "rings"], ["similar", indexed / "02_rings" / "rings_000.mp4"]):
        hits = json.loads(run(*command, "--limit", "50", "--json").stdout)["hits"]
        assert len(hits) >= 22 and video not in {hit["video_id"] for hit in hits}
    again = json.loads(run("add", indexed, "-q", "--json").stdout)
    assert [f["path"] for f in again["failed"]] == ["02_rings/rings_001.mp4"] and again["unchanged"] == 23


def test_row_left_beside_a_remembered_failure_is_dropped(indexed, run):
    """An index written before this rule kept the stale row and remembered the failure."""
    db = Path(os.environ["VINDEX_DB"])
    victim = indexed / "01_checker" / "checker_002.mp4"
    video = rows(db)["01_checker/checker_002.mp4"]["id"]
    victim.write_bytes(b"not a video any more")
    info = victim.stat()
    Store(str(db)).set_meta(failed={"01_checker/checker_002.mp4": [info.st_size, info.st_mtime_ns, "no video stream"]})
    summary = json.loads(run("add", indexed, "-q", "--json").stdout)
    assert [f["path"] for f in summary["failed"]] == ["01_checker/checker_002.mp4"]
    assert video not in {row["id"] for row in rows(db).values()}
