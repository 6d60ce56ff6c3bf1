import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from vindex.cli import cli
from vindex.demo import make_corpus

from tests.search_corpus import library  # noqa: F401  (the search corpus, indexed once per run)

TINY = ["--model", "vindex-tiny"]


def pytest_configure(config):
    """Converted models go to a cache folder of the test run's own, never the user's."""
    import os
    import tempfile

    os.environ["VINDEX_CACHE"] = config.vindex_cache = tempfile.mkdtemp(prefix="vindex-cache-")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "vindex_cache", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_index(tmp_path, monkeypatch):
    """Every test gets its own index location and a working directory with no `.vindex` above it."""
    db = tmp_path / "index.vindex"
    monkeypatch.setenv("VINDEX_DB", str(db))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return db


@pytest.fixture(scope="session")
def corpus_template(tmp_path_factory) -> Path:
    """4 channels x 6 short videos with a distinct look per channel, made once per session."""
    root = tmp_path_factory.mktemp("corpus") / "channels"
    make_corpus(root, channels=4, videos_per_channel=6, seed=0, size=(96, 72), seconds=(1.0, 2.0), fps=10)
    return root


@pytest.fixture
def corpus(corpus_template, tmp_path) -> Path:
    """A private, writable copy of the session corpus."""
    root = tmp_path / "channels"
    shutil.copytree(corpus_template, root)
    return root


@pytest.fixture
def run():
    """Invoke the CLI in-process; fails the test on an unexpected exception."""

    def invoke(*args: str, expect: int = 0):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result

    return invoke


@pytest.fixture
def indexed(corpus, run):
    """The private corpus, indexed with the tiny model."""
    run("add", corpus, *TINY, "-q")
    return corpus


@pytest.fixture(scope="session")
def indexed_template(corpus_template, tmp_path_factory) -> Path:
    """The session corpus indexed once with the tiny model. Read-only: tests use `indexed_copy`."""
    from vindex.embedding import ModelSpec
    from vindex.index import Index

    db = tmp_path_factory.mktemp("indexed") / "index.vindex"
    Index(str(db)).add(corpus_template, model=ModelSpec("vindex-tiny"))
    return db


@pytest.fixture
def indexed_copy(indexed_template, isolated_index) -> Path:
    """A private copy of the indexed session corpus at this test's VINDEX_DB, without re-indexing.

    The videos themselves are shared with other tests: copy them before changing any.
    """
    shutil.copytree(indexed_template, isolated_index)
    return isolated_index


@contextmanager
def served(*args: str) -> Iterator[str]:
    """`vindex serve --port 0 ARGS` in a subprocess, as a user starts it; yields its address."""
    process = subprocess.Popen([sys.executable, "-m", "vindex", "serve", "--port", "0", "-q", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=120)
            if line.startswith("vindex serve: http://"):
                break
            assert process.poll() is None, line
        yield line.split()[2].rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=30)
