"""A query that a running `vindex serve` answers stays cheap in the client: `import vindex` loads
none of the library, and the CLI asks the server without numpy, Arrow, LanceDB or a model runtime."""

import json
import subprocess
import sys

from tests.conftest import served

HEAVY = ("numpy", "pyarrow", "lancedb", "openvino", "torch", "vindex.store", "vindex.search", "vindex.index")

# Runs the CLI as `python -m vindex` does, then names the heavy modules that were loaded.
CLIENT = f"""
import json, sys
from vindex.cli import cli
try:
    cli(sys.argv[1:], prog_name="vindex", standalone_mode=False)
finally:
    heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
    print(json.dumps(heavy), file=sys.stderr)
"""


def loaded_heavy(*args: str) -> tuple[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", CLIENT, *args], capture_output=True, text=True, check=True)
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_importing_vindex_loads_none_of_the_library_until_a_public_name_is_used():
    code = ("import sys, vindex; before = sorted(m for m in sys.modules if m.startswith('vindex'));"
            "vindex.Index; print(before, 'vindex.index' in sys.modules, 'numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['vindex']", "True", "True"]


def test_a_served_query_loads_no_numpy_arrow_lancedb_or_model(indexed_copy):
    with served():
        answer, heavy = loaded_heavy("query", "a red square", "--json")
        assert json.loads(answer)["served_by"] and heavy == []
        file = json.loads(answer)["hits"][0]["file"]
        answer, heavy = loaded_heavy("similar", file, "--json")
        assert json.loads(answer)["served_by"] and heavy == []
    answer, heavy = loaded_heavy("query", "a red square", "--json")  # no server: answered locally
    assert "served_by" not in json.loads(answer) and "lancedb" in heavy


def test_the_shapes_of_an_answer_import_without_numpy_or_arrow():
    code = (f"import sys; from vindex import Hit, QueryResult; "
            f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
