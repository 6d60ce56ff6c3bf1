"""The index under a second writer, on a read-only disk, with damaged files, and `vindex check`.

docs/reliability.md names these tests beside the promise each one holds.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from vindex.demo import make_corpus
from vindex.embedding import ModelSpec
from vindex.index import Index
from vindex.locking import WriterBusy, WriterLock
from vindex.store import Store
from vindex.store.failures import latest_version_on_disk, manifest_version

from tests.conftest import TINY

NOBODY = 65534
RUST_SOURCE = ".rs:"


# -- helpers ----------------------------------------------------------------------------------------
@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """Three short videos: enough for a write to pause in, quick to embed."""
    root = tmp_path / "small"
    make_corpus(root, channels=1, videos_per_channel=3, seed=7, size=(64, 48), seconds=(1.0, 1.0), fps=8)
    return root


def frame_facts(db: Path) -> tuple[int, int, Counter]:
    """Frame rows, the frames the video rows expect, and how often each (video, frame index) occurs."""
    store = Store(str(db))
    frames = store.frames.search().select(["video_id", "frame_index"]).limit(None).to_arrow()
    pairs = Counter(zip(frames.column("video_id").to_pylist(), frames.column("frame_index").to_pylist()))
    expected = sum(store.catalog(["num_frames"]).column("num_frames").to_pylist())
    return frames.num_rows, expected, pairs


class PausedWriter:
    """An `add` in a thread that stops in its first `Store.write`, between deleting a video's frames
    and appending the new ones (its first append to the frames table), until `finish()`."""

    def __init__(self, db: Path, folder: Path, monkeypatch):
        from lancedb.table import LanceTable

        self.paused, self.go = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        append = LanceTable.add
        writer = threading.Thread(target=self._add, args=(db, folder))

        def pause_once(table, *args, **kwargs):
            if table.name == "frames" and threading.current_thread() is writer and not self.paused.is_set():
                self.paused.set()
                assert self.go.wait(120), "the test never resumed the writer"
            return append(table, *args, **kwargs)

        monkeypatch.setattr(LanceTable, "add", pause_once)
        self.thread = writer
        self.thread.start()
        assert self.paused.wait(180), "the writer never reached its first write"

    def _add(self, db: Path, folder: Path) -> None:
        try:
            Index(str(db)).add(folder, model=ModelSpec("vindex-tiny"))
        except BaseException as error:  # noqa: BLE001 (reported by finish())
            self.error = error

    def finish(self) -> None:
        self.go.set()
        self.thread.join(180)
        assert not self.thread.is_alive() and self.error is None, self.error


@pytest.fixture
def open_tmp() -> Path:
    """A folder anyone may enter (pytest's own are root's alone), for what the unprivileged user reads."""
    folder = Path(tempfile.mkdtemp(prefix="vindex-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def as_nobody(*args: str, home: Path) -> subprocess.CompletedProcess:
    """`vindex ARGS` as an unprivileged user. It keeps the right to read and search any folder
    (CAP_DAC_READ_SEARCH, so it can run this interpreter), never the right to write."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as an unprivileged user")
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
               sys.executable, "-m", "vindex", *args]
    env = dict(os.environ, HOME=str(home), VINDEX_DB="")
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def read_only_copy(template: Path, where: Path) -> Path:
    db = where / "index.vindex"
    shutil.copytree(template, db)
    for path in [db, *db.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return db


def one_line_error(result, *expected: str) -> str:
    lines = result.stderr.strip().splitlines() if hasattr(result, "stderr") else result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert RUST_SOURCE not in lines[0] and "Traceback" not in lines[0], lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def newest_manifest(db: Path, table: str) -> Path:
    manifests = sorted((db / f"{table}.lance" / "_versions").glob("*.manifest"), key=lambda p: manifest_version(p.name))
    return manifests[-1]


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 4, len(data)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


# -- one writer at a time ------------------------------------------------------------------
def test_second_add_is_refused_while_a_writer_is_between_delete_and_append(small_corpus, isolated_index, run,
                                                                           monkeypatch):
    writer = PausedWriter(isolated_index, small_corpus, monkeypatch)
    try:
        refused = run("add", small_corpus, *TINY, "-q", expect=1)
        line = one_line_error(refused, f"another vindex is writing to {isolated_index}", f"pid {os.getpid()}",
                              "pass --wait")
        assert "since" in line
        # Readers keep working while the writer holds the lock.
        assert json.loads(run("info", "--json").stdout)["db"] == str(isolated_index)
    finally:
        writer.finish()
    rows, expected, pairs = frame_facts(isolated_index)
    assert rows == expected == 15 and max(pairs.values()) == 1
    assert "index OK: 3 videos, 15 frames" in run("check").stdout


def test_a_waiting_writer_runs_after_the_first_and_doubles_nothing(small_corpus, isolated_index, monkeypatch):
    writer = PausedWriter(isolated_index, small_corpus, monkeypatch)
    second: dict = {}
    waiting = threading.Thread(
        target=lambda: second.update(summary=Index(str(isolated_index)).add(small_corpus, wait=True)))
    waiting.start()
    waiting.join(3)
    assert waiting.is_alive(), "the second writer did not wait for the first"
    writer.finish()
    waiting.join(180)
    assert second["summary"].unchanged == 3 and second["summary"].embedded == 0
    rows, expected, pairs = frame_facts(isolated_index)
    assert rows == expected == 15 and max(pairs.values()) == 1


def test_writer_in_another_process_refuses_every_writing_command(indexed_copy, run):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from vindex.locking import WriterLock; "
         f"WriterLock(Path({str(indexed_copy)!r})).acquire(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for command in (["optimize"], ["cluster", "--min-size", "2", "--no-report", "-q"], ["check", "--repair"],
                        ["organize", "--dest", "out", "--apply"], ["add", str(indexed_copy.parent), *TINY]):
            refused = run(*command, expect=1)
            one_line_error(refused, "another vindex is writing to", f"pid {holder.pid}")
        assert json.loads(run("info", "--json").stdout)["videos"] == 24
    finally:
        holder.communicate("", timeout=30)


def test_wait_flag_waits_for_the_lock(indexed_copy, run):
    lock = WriterLock(indexed_copy).acquire()
    done = threading.Event()
    waiting = threading.Thread(target=lambda: (run("optimize", "--wait", "--json"), done.set()))
    waiting.start()
    try:
        assert not done.wait(3), "optimize --wait did not wait"
    finally:
        lock.release()
    waiting.join(120)
    assert done.is_set()


def test_index_writing_holds_the_lock_for_its_block_and_writing_methods_inside_share_it(indexed_copy):
    index = Index(str(indexed_copy))
    outside: dict = {}

    def optimize_from_another_thread():
        try:
            Index(str(indexed_copy)).optimize()
        except WriterBusy as error:
            outside["error"] = str(error)

    with index.writing() as store:
        assert store is index.store
        assert index.optimize().videos == 24  # inside the block: the lock it holds, not a second one
        other = threading.Thread(target=optimize_from_another_thread)
        other.start()
        other.join(120)
        assert "another vindex is writing to" in outside["error"]
    Index(str(indexed_copy)).optimize()  # released at the block's end


def test_lock_is_released_when_a_writer_fails(indexed_copy, run):
    run("add", "/no/such/folder", *TINY, expect=1)
    run("optimize", "--json")  # would be refused if the failed add had kept the lock


# -- read-only disk and damaged files ---------------------------------------------------------
def test_read_only_index_refuses_writes_in_one_line_and_still_reads(indexed_template, corpus_template, open_tmp,
                                                                    tmp_path):
    db = read_only_copy(indexed_template, open_tmp)
    folder = shutil.copytree(corpus_template, open_tmp / "channels")
    for command in (["add", str(folder), "--model", "vindex-tiny", "-q"], ["optimize"]):
        refused = as_nobody(*command, "--db", str(db), home=tmp_path)
        assert refused.returncode == 1
        one_line_error(refused, f"cannot write to {db}: permission denied (read-only disk?)",
                       "copy it somewhere writable or fix permissions")
    info = as_nobody("info", "--json", "--db", str(db), home=tmp_path)
    assert info.returncode == 0 and json.loads(info.stdout)["videos"] == 24
    checked = as_nobody("check", "--db", str(db), home=tmp_path)
    assert checked.returncode == 0 and "index OK: 24 videos, 120 frames" in checked.stdout


def test_unwritable_table_files_refuse_a_write_in_one_line(small_corpus, open_tmp, tmp_path):
    small_corpus = shutil.copytree(small_corpus, open_tmp / "small")
    db = open_tmp / "tables.vindex"
    Index(str(db)).add(small_corpus, model=ModelSpec("vindex-tiny"))
    # The lock file can be made (the folder is the user's), the tables' files cannot be written.
    os.chown(db, NOBODY, NOBODY)
    for path in db.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    sorted(small_corpus.rglob("*.mp4"))[0].unlink()
    refused = as_nobody("add", str(small_corpus), "--db", str(db), "--model", "vindex-tiny", "-q", home=tmp_path)
    assert refused.returncode == 1
    one_line_error(refused, f"cannot write to {db}: permission denied (read-only disk?)")


def test_damaged_manifest_is_one_line_with_what_to_do(indexed_copy, run):
    manifest = newest_manifest(indexed_copy, "frames")
    version = manifest_version(manifest.name)
    os.truncate(manifest, 20)
    for command in (["info"], ["query", "red"], ["add", str(indexed_copy.parent), *TINY]):
        failed = run(*command, expect=1)
        one_line_error(failed, f"the index at {indexed_copy} is damaged (frames version {version} cannot be read",
                       "run `vindex check --repair`")


def test_damaged_data_file_is_one_line_with_what_to_do(indexed_copy, run):
    for data in (indexed_copy / "frames.lance" / "data").glob("*.lance"):
        garble(data)
    failed = run("query", "red", expect=1)
    one_line_error(failed, f"the index at {indexed_copy} is damaged", "run `vindex check --repair`")


# -- vindex check and --repair --------------------------------------------------------------
def check(run, *args: str, expect: int = 0) -> dict:
    return json.loads(run("check", "--json", *args, expect=expect).stdout)


def test_check_passes_a_sound_index(indexed_copy, run):
    assert run("check").stdout.strip() == "index OK: 24 videos, 120 frames"
    found = check(run)
    assert found["ok"] and found["problems"] == [] and found["missing_files"] == []


def test_check_repairs_an_unopenable_manifest_by_moving_it_aside(indexed_copy, run):
    manifest = newest_manifest(indexed_copy, "frames")
    version = manifest_version(manifest.name)
    os.truncate(manifest, 20)
    found = check(run, expect=1)
    assert found["problems"] == [f"frames: cannot be opened at version {version} (file size is too small)"]
    repaired = run("check", "--repair").stdout
    assert f"frames: version {version} could not be opened" in repaired and "index OK: 24 videos, 120 frames" in repaired
    aside = list((indexed_copy / "damaged").rglob(manifest.name))
    assert len(aside) == 1 and aside[0].stat().st_size == 20  # kept, not deleted
    assert latest_version_on_disk(str(indexed_copy), "frames") == version - 1
    assert check(run)["ok"] and check(run)["repaired"] == []


@pytest.mark.slow
def test_check_restores_the_last_readable_version_and_add_embeds_the_lost_frames(indexed_copy, run):
    for data in (indexed_copy / "frames.lance" / "data").glob("*.lance"):
        garble(data)
    found = check(run, expect=1)
    assert len(found["problems"]) == 1 and "frames: version" in found["problems"][0]
    repaired = check(run, "--repair")
    assert repaired["ok"] and any("restored version" in line for line in repaired["repaired"])
    assert any("re-queued 24 videos" in line for line in repaired["repaired"])
    assert check(run)["warnings"] == ["24 videos wait to be embedded again by the next `vindex add`"]
    root = Store(str(indexed_copy)).meta.root
    summary = json.loads(run("add", root, *TINY, "-q", "--json").stdout)
    assert summary["embedded"] == 24
    assert run("check").stdout.strip() == "index OK: 24 videos, 120 frames"


def some_video(db: Path) -> dict:
    return Store(str(db)).catalog(["id", "path", "num_frames"]).to_pylist()[0]


def test_check_drops_orphan_frames(indexed_copy, run):
    store = Store(str(indexed_copy))
    frames = store.frames_by_video([some_video(indexed_copy)["id"]])
    store.append("frames", frames.set_column(0, "video_id", pa.array(["gone"] * frames.num_rows)))
    found = check(run, expect=1)
    assert found["problems"] == ["5 frames belong to no video (1 video id no longer in the index)"]
    assert check(run, "--repair")["repaired"] == ["removed the frames of 1 video id no longer in the index"]
    assert check(run) == dict(check(run), ok=True, frames=120)


def test_check_drops_duplicate_frames_and_keeps_the_video(indexed_copy, run):
    video = some_video(indexed_copy)
    store = Store(str(indexed_copy))
    store.append("frames", store.frames_by_video([video["id"]]))
    found = check(run, expect=1)
    assert found["problems"] == [f"{video['path']}: 5 duplicate frames"]
    assert check(run, "--repair")["repaired"] == ["removed 5 duplicate frames of 1 video"]
    assert check(run)["ok"] and check(run)["frames"] == 120
    assert Store(str(indexed_copy)).frames_by_video([video["id"]]).num_rows == 5


def test_check_requeues_a_video_with_missing_frames_for_the_next_add(indexed_copy, run):
    from vindex.indexing.plan import plan_sync

    video = some_video(indexed_copy)
    store = Store(str(indexed_copy))
    store.frames.delete(f"video_id = '{video['id']}' AND frame_index >= 2")
    found = check(run, expect=1)
    assert found["problems"] == [f"{video['path']}: 2 of its 5 frames"]
    assert "re-queued 1 video whose" in check(run, "--repair")["repaired"][0]
    after = check(run)
    assert after["ok"] and after["frames"] == 115 and after["warnings"][0].startswith("1 video waits")
    store = Store(str(indexed_copy))
    root = Path(store.meta.root)
    plan = plan_sync(store, root, root)
    queued = [i for job in plan.jobs for i in job.ids] + [copy[1] for copy in plan.copies]
    assert queued == [video["id"]] and plan.unchanged == 23


def test_check_keeps_one_row_of_a_duplicated_id(indexed_copy, run):
    video = some_video(indexed_copy)
    store = Store(str(indexed_copy))
    store.append("videos", store.videos_by_id([video["id"]]))
    found = check(run, expect=1)
    assert found["problems"] == [f"video id {video['id']} is in more than one row"]
    assert check(run, "--repair")["repaired"] == [f"video id {video['id']}: removed 1 duplicate rows, kept the newest"]
    assert check(run) == dict(check(run), ok=True, videos=24, frames=120)


def test_check_keeps_the_newest_row_of_a_duplicated_path(indexed_copy, run):
    video = some_video(indexed_copy)
    store = Store(str(indexed_copy))
    row = store.videos_by_id([video["id"]]).to_pylist()[0]
    older = dict(row, id="older-row", indexed_at=row["indexed_at"].replace(year=2000))
    store.append("videos", pa.Table.from_pylist([older], store.videos.schema))
    frames = store.frames_by_video([video["id"]])
    store.append("frames", frames.set_column(0, "video_id", pa.array(["older-row"] * frames.num_rows)))
    found = check(run, expect=1)
    assert found["problems"] == [f"{video['path']} is in 2 rows (ids {', '.join(sorted([video['id'], 'older-row']))})"]
    assert check(run, "--repair")["repaired"] == [f"{video['path']}: removed 1 row that repeated it "
                                                  f"(kept {video['id']}, the newest)"]
    assert check(run) == dict(check(run), ok=True, videos=24, frames=120)


def test_check_lists_files_missing_on_disk_and_deletes_nothing(indexed_copy, run, corpus_template):
    video = some_video(indexed_copy)
    before = sorted(corpus_template.rglob("*"))
    Store(str(indexed_copy)).update_rows({video["id"]: {"path": "00_gone/gone.mp4"}})
    found = check(run)
    assert found["ok"] and found["missing_files"] == ["00_gone/gone.mp4"]
    assert "not on disk: 00_gone/gone.mp4" in run("check", "--repair").stdout
    assert sorted(corpus_template.rglob("*")) == before


def test_check_reports_vectors_of_another_size(indexed_copy, run):
    Store(str(indexed_copy)).set_meta(dim=256)
    found = check(run, "--repair", expect=1)
    assert "videos: vectors of size 512, but the index's model makes 256: rebuild it with " \
           "`vindex add FOLDER --reembed`" in found["problems"]
    printed = run("check", expect=1).stdout
    assert "problems in the index at" in printed and "run `vindex check --repair`" in printed


def test_the_next_add_of_the_root_embeds_again_a_requeued_video_organized_out_of_it(small_corpus, isolated_index, run):
    from vindex.indexing.plan import plan_sync

    run("add", small_corpus, *TINY, "-q")
    video = some_video(isolated_index)
    # Where `vindex organize --dest` outside the root leaves a file and its row.
    outside = small_corpus.parent / "sorted" / "a.mp4"
    outside.parent.mkdir()
    os.rename(small_corpus / video["path"], outside)
    store = Store(str(isolated_index))
    store.update_rows({video["id"]: {"path": "../sorted/a.mp4"}})
    assert plan_sync(Store(str(isolated_index)), small_corpus, small_corpus).unchanged == 3
    Store(str(isolated_index)).frames.delete(f"video_id = '{video['id']}' AND frame_index >= 2")
    assert "re-queued 1 video whose" in check(run, "--repair")["repaired"][0]
    plan = plan_sync(Store(str(isolated_index)), small_corpus, small_corpus)
    queued = [i for job in plan.jobs for i in job.ids] + [copy[1] for copy in plan.copies]
    assert queued == [video["id"]] and plan.unchanged == 2
    run("add", small_corpus, *TINY, "-q")
    after = check(run)
    assert after["ok"] and not after["warnings"]
    assert Store(str(isolated_index)).frames_by_video([video["id"]]).num_rows == 5
