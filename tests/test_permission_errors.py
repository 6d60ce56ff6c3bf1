"""A path the user may not read, met by `stat` or `realpath` anywhere in a command: one line, a
non-zero exit, never `Error: PermissionError: [Errno 13]`. Run as uid 65534 through `setpriv`,
since root reads everything."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import vindex

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []

pytestmark = pytest.mark.skipif(bool(NOBODY) and not shutil.which("setpriv"), reason="needs setpriv to drop root")


@pytest.fixture
def shared(indexed_template, corpus_template):
    """An index anyone may read, and a folder `secret` only its owner may enter, holding a video."""
    folder = Path(tempfile.mkdtemp(prefix="vindex-permissions-"))
    folder.chmod(0o755)
    shutil.copytree(indexed_template, folder / "index.vindex")
    for path in [folder / "index.vindex", *(folder / "index.vindex").rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    secret = folder / "secret"
    (secret / "sub").mkdir(parents=True)
    shutil.copy(sorted(corpus_template.rglob("*.mp4"))[0], secret / "clip.mp4")
    shutil.copytree(indexed_template, secret / "index.vindex")
    secret.chmod(0o700)
    yield folder
    shutil.rmtree(folder)


def vindex_as_nobody(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "VINDEX_DB"}
    env.update(HOME=str(folder), VINDEX_CACHE=str(folder / "cache"), VINDEX_DB=str(folder / "index.vindex"),
               PYTHONPATH=str(Path(vindex.__file__).parents[1]))
    return subprocess.run([*NOBODY, sys.executable, "-m", "vindex", *arguments], capture_output=True, text=True,
                          env=env, cwd=folder, timeout=300)


SLOW = pytest.mark.slow  # each starts a Python of its own: ~10 s on 2 shared cores


@pytest.mark.parametrize("command", [
    ["similar", "{secret}/clip.mp4"],
    pytest.param(["export", "{secret}/clip.mp4"], marks=SLOW),
    ["add", "{secret}/sub", "--model", "vindex-tiny"],
    pytest.param(["info", "--db", "{secret}/index.vindex"], marks=SLOW),
    pytest.param(["check", "--db", "{secret}/index.vindex"], marks=SLOW),
    pytest.param(["query", "red", "--db", "{secret}/index.vindex"], marks=SLOW),
], ids=lambda command: command[0] + ("-db" if "--db" in command else ""))
def test_a_path_that_cannot_be_read_is_one_line_and_a_failure(shared, command):
    done = vindex_as_nobody(shared, *(part.format(secret=shared / "secret") for part in command))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "Permission denied" in lines[0] and str(shared / "secret") in lines[0]
    assert "PermissionError" not in lines[0] and "Errno" not in lines[0]
