"""Importing lancedb without its REST catalog client until something uses it.

lancedb 0.40 imports `lance_namespace`, whose package imports `lance_namespace_urllib3_client`: a
generated REST client for remote catalogs whose `__init__` loads every API module (0.5 s of CPU of
lancedb's 1.5 s here). vindex opens folders and object-store URIs, never a catalog. The client's
package is put in place without running its `__init__`, so only the submodules lancedb names
(its `models`) load; the first use of any other name runs the real `__init__`, and all of it is there.
"""

from __future__ import annotations

import importlib.util
import sys

NAMESPACE_CLIENT = "lance_namespace_urllib3_client"


def import_lancedb():
    """The `lancedb` module, with the catalog client's package loaded on first use only."""
    if NAMESPACE_CLIENT not in sys.modules and "lancedb" not in sys.modules:
        spec = importlib.util.find_spec(NAMESPACE_CLIENT)
        if spec is not None and spec.loader is not None and spec.submodule_search_locations is not None:
            package = importlib.util.module_from_spec(spec)

            def load(name: str):
                del package.__getattr__
                spec.loader.exec_module(package)
                return getattr(package, name)

            package.__getattr__ = load
            sys.modules[NAMESPACE_CLIENT] = package
    import lancedb

    return lancedb
