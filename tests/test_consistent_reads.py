"""Reads while `vindex add` writes: every answer is a state the writer meant to leave, and
"damaged" is said only of damage. docs/reliability.md names these tests."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vindex.demo import make_corpus
from vindex.errors import VindexError
from vindex.index import Index

from tests.conftest import TINY

FRAMES = 5  # the tiny corpus's videos are all long enough for 5 frames each


def poll_while(writer: subprocess.Popen, db: Path, seconds: float) -> tuple[list[tuple[int, int]], list[str]]:
    """`info` read again and again while `writer` runs: (videos, frames) seen, and errors said."""
    seen, errors, deadline = [], [], time.monotonic() + seconds
    while writer.poll() is None and time.monotonic() < deadline:
        try:
            facts = Index(str(db)).info()
            seen.append((facts.videos, facts.frames))
        except VindexError as error:
            errors.append(str(error))
    return seen, errors


def start_add(folder: Path, db: Path, *options: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.Popen([sys.executable, "-m", "vindex", "add", str(folder), "--db", str(db), *TINY, "-q",
                             "--commit-every", "2", *options], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_reads_during_add_and_reembed_see_whole_batches_and_never_damage(tmp_path):
    folder, db = tmp_path / "videos", tmp_path / "index.vindex"
    make_corpus(folder, channels=2, videos_per_channel=12, seed=5, size=(64, 48), seconds=(1.0, 1.5), fps=10)
    for options in ((), ("--reembed",)):
        writer = start_add(folder, db, *options)
        seen, errors = poll_while(writer, db, seconds=240)
        _, stderr = writer.communicate(timeout=240)
        assert writer.returncode == 0, stderr
        impossible = [(videos, frames) for videos, frames in seen if frames != FRAMES * videos]
        assert not impossible, f"{len(impossible)} of {len(seen)} reads: {impossible[:5]}"
        assert not [error for error in errors if "damaged" in error], errors[:3]
        assert len(seen) > 5 and len({videos for videos, _ in seen}) > 2  # reads did land mid-run
    assert (Index(str(db)).info().videos, Index(str(db)).info().frames) == (24, 24 * FRAMES)


def test_size_on_disk_skips_files_a_writer_removes_while_it_counts(indexed_copy, monkeypatch):
    """`info` during `add --reembed`: the frames table being dropped vanishes while the folder is
    walked (a file is there when listed, gone when measured); it is not counted, and nothing fails."""
    from vindex.store import Store

    store = Store(str(indexed_copy))
    whole = store.size_on_disk()
    real_stat, seen = os.stat, set()

    def stat_while_a_writer_drops_frames(path, *args, **kwargs):
        if f"{os.sep}frames.lance{os.sep}" in str(path):
            if str(path) in seen:  # looked at once already: dropped since
                raise FileNotFoundError(2, "No such file or directory", str(path))
            seen.add(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_while_a_writer_drops_frames)
    assert 0 < store.size_on_disk() <= whole
