"""File names made to attack a terminal or a pipe: shown visibly, and `--paths` never ambiguous.

docs/reliability.md names these tests beside the promise each one holds.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vindex.demo import make_corpus
from vindex.display import visible_name

from tests.conftest import TINY

HOSTILE = "ansi\x1b[31mRED\x1b]0;PWNED\x07.avi"
NEWLINE = "zz\nbirds.mp4"
RAW = ("\x1b", "\x07", "\u202e")


@pytest.fixture
def hostile_folder(tmp_path, run) -> Path:
    """Two short videos, and byte-identical copies of the first under hostile names, indexed."""
    root = tmp_path / "hostile"
    make_corpus(root, channels=1, videos_per_channel=2, seed=3, size=(64, 48), seconds=(1.0, 1.0), fps=8)
    first = sorted(root.rglob("*.mp4"))[0]
    for name in (HOSTILE, NEWLINE, "bidi\u202eavi.mp4"):
        shutil.copy(first, root / name)
    run("add", root, *TINY, "-q")
    return root


def test_visible_name_writes_out_controls_and_format_characters():
    assert visible_name(HOSTILE) == "ansi\\x1b[31mRED\\x1b]0;PWNED\\x07.avi"
    assert visible_name("a\u202eb\x9bc\x7f") == "a\\u202eb\\x9bc\\x7f"
    assert visible_name("café 漢字 ok.mp4") == "café 漢字 ok.mp4"


def test_query_table_and_json_show_hostile_names_without_raw_escapes(hostile_folder, run):
    table = run("query", "stripes", "-n", "10").output
    assert "ansi\\x1b[31mRED\\x1b]0;PWNED\\x07.avi" in table and "zz\\x0abirds.mp4" in table
    assert "bidi\\u202eavi.mp4" in table
    assert not any(char in table for char in RAW)
    as_json = run("query", "stripes", "-n", "10", "--json").stdout
    assert not any(char in as_json for char in RAW)
    assert HOSTILE in {hit["path"] for hit in json.loads(as_json)["hits"]}  # JSON keeps the real name


def test_piped_cli_output_carries_no_osc_sequence(hostile_folder):
    """As a user piping `vindex query` or `dupes` into less would run it: a real process, stdout a pipe."""
    for command in (["query", "stripes", "-n", "10"], ["dupes"]):
        done = subprocess.run([sys.executable, "-m", "vindex", *command], capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert b"\x1b" not in done.stdout + done.stderr and b"\x07" not in done.stdout + done.stderr
        assert b"PWNED" in done.stdout


def test_dupes_table_and_warnings_show_names_visibly(hostile_folder, run):
    table = run("dupes").output
    assert "ansi\\x1b[31mRED" in table and not any(char in table for char in RAW)
    (hostile_folder / HOSTILE).unlink()
    check = run("check").output  # the file is gone: the check names it
    assert "not on disk: ansi\\x1b[31mRED" in check and not any(char in check for char in RAW)


def test_paths_refuses_a_name_with_a_newline_and_points_to_null(hostile_folder, run):
    refused = run("dupes", "--paths", expect=1)
    assert refused.stdout == ""  # nothing half printed for xargs to act on
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "--paths -0" in lines[0] and "\n" not in lines[0][:-1]
    assert not any(char in refused.stderr for char in RAW)
    refused = run("query", "stripes", "-n", "10", "--paths", expect=1)
    assert "--paths -0" in refused.stderr


def test_paths_null_prints_every_copy_nul_terminated_and_never_the_keeper(hostile_folder, run):
    printed = run("dupes", "--paths", "-0").stdout_bytes
    files = printed.split(b"\0")
    assert files[-1] == b""  # each path ends with NUL, none with a newline
    files = {Path(file.decode()) for file in files[:-1]}
    keeper = sorted(hostile_folder.rglob("*.mp4"))[0]
    assert files == {hostile_folder / HOSTILE, hostile_folder / NEWLINE, hostile_folder / "bidi\u202eavi.mp4"}
    assert keeper not in files and all(file.exists() for file in files)
    found = run("query", "stripes", "-n", "10", "--null").stdout_bytes.split(b"\0")[:-1]
    assert {Path(file.decode()) for file in found} >= files


def test_paths_without_hostile_names_still_prints_one_per_line(corpus, run):
    shutil.copy(sorted(corpus.rglob("*.mp4"))[0], corpus / "zz-copy.mp4")
    run("add", corpus, *TINY, "-q")
    # Exact mode: the copy is byte-identical, and the generated corpus's gradient channel holds 1 s
    # clips of one gradient at nearly one angle in one palette, which near mode groups (docs/search.md).
    assert run("dupes", "--mode", "exact", "--paths").stdout == f"{corpus / 'zz-copy.mp4'}\n"
