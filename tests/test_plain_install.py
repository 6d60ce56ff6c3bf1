"""What the plain install (no torch, no open_clip) does on the shipped `vindex-tiny`: add, query,
similar, dupes, cluster and serve. CI runs these in a venv made by a plain `pip install .`, where
torch cannot be imported; elsewhere the commands run with torch and open_clip hidden."""

import json
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from tests.conftest import TINY

pytestmark = pytest.mark.plain

# Runs the CLI in a fresh interpreter as the plain install would: torch and open_clip can be
# neither found nor imported (where they are installed, they are hidden).
NO_TORCH_RUN = """
import importlib.util, sys
HIDDEN = ("torch", "open_clip")
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in HIDDEN else find_spec(name, *a)

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Hide())
from vindex.cli import cli
cli.main(sys.argv[1:], standalone_mode=False)
"""


def run_without_torch(*args) -> dict:
    """`vindex ARGS --json` in a subprocess without torch; asserts it succeeded."""
    done = subprocess.run([sys.executable, "-c", NO_TORCH_RUN, *map(str, args), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def plain_index(corpus_template, tmp_path_factory):
    db = tmp_path_factory.mktemp("plain") / "index.vindex"
    summary = run_without_torch("add", corpus_template, *TINY, "--db", db, "-q")
    return corpus_template, db, summary


def test_add_embeds_with_the_shipped_model_without_torch(plain_index):
    corpus, db, summary = plain_index
    assert summary["embedded"] > 0 and not summary.get("failed")
    info = run_without_torch("info", "--db", db)
    assert info["model"] == "vindex-tiny" and info["backend"] == "openvino"


def test_query_and_similar_answer_without_torch(plain_index):
    corpus, db, _ = plain_index
    hits = run_without_torch("query", "colourful stripes", "--db", db, "--limit", "3")["hits"]
    assert len(hits) == 3
    similar = run_without_torch("similar", corpus / hits[0]["path"], "--db", db, "--limit", "3")["hits"]
    assert similar and all(hit["path"] != hits[0]["path"] for hit in similar)


def test_cluster_runs_without_torch(plain_index, tmp_path):
    corpus, db, _ = plain_index
    result = run_without_torch("cluster", "--db", db, "--min-size", "3", "--no-report", "-q")
    assert result["videos"] > 0 and len(result["clusters"]) >= 1


def test_serve_answers_a_query(plain_index):
    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    _, db, _ = plain_index
    client = TestClient(create_app(Library(str(db))), base_url="http://127.0.0.1:8765")  # its own Host
    answer = client.get("/api/query", params={"q": "colourful stripes", "limit": 2})
    assert answer.status_code == 200 and len(answer.json()["hits"]) == 2


def test_dupes_compares_stored_frames_without_torch(plain_index):
    _, db, summary = plain_index
    report = run_without_torch("dupes", "--db", db, "--mode", "similar")
    assert report["mode"] == "similar" and 0 < report["compared"] <= summary["embedded"]
