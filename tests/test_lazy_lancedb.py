"""lancedb imports without its REST catalog client's API modules, and still works, client included."""

import subprocess
import sys

CHECK = """
import sys
from vindex.store import Store
store = Store(sys.argv[1], create=True)
store.db.create_table("t", data=[{"x": 1}])
assert store.db.open_table("t").count_rows() == 1
assert "lance_namespace_urllib3_client.api" not in sys.modules, "the catalog client's APIs were imported"
import lance_namespace_urllib3_client as client
assert client.TableApi is not None  # first use: the real package loads, whole
print("ok")
"""


def test_lancedb_works_without_importing_the_catalog_client_until_used(tmp_path):
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "db")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
