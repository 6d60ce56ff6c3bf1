"""The `curation` table: the user's cluster decisions, one row each, appended and never rewritten,
so the table is also the audit trail (who, what, when). `vindex.clustering.curation` gives the rows
their meaning."""

from __future__ import annotations

import getpass
import json
from datetime import datetime, timezone

import pyarrow as pa

from vindex.schema import CURATION, curation_schema
from vindex.store.failures import reads, writes


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name and no $USER (a container): still record the decision
        return "unknown"


class CurationLog:
    """The decisions of the index at `store` (its LanceDB connection)."""

    def __init__(self, store):
        self.store = store
        self.uri = store.uri

    def _table(self, create: bool = False):
        db = self.store.db
        if CURATION in db.list_tables().tables:
            return db.open_table(CURATION)
        return db.create_table(CURATION, schema=curation_schema()) if create else None

    @reads
    def rows(self) -> list[dict]:
        """Every decision, oldest first, with `args` and `undo` decoded."""
        table = self._table()
        if table is None:
            return []
        rows = sorted(table.to_arrow().to_pylist(), key=lambda row: row["seq"])
        for row in rows:
            row["args"] = json.loads(row["args"] or "{}")
            row["undo"] = json.loads(row["undo"] or "{}")
        return rows

    @reads
    def count(self) -> int:
        table = self._table()
        return 0 if table is None else table.count_rows()

    @writes
    def append(self, action: str, cluster: int | None, args: dict, undo: dict | None = None) -> dict:
        """Record one decision (the caller holds the writer lock); the row as stored."""
        table = self._table(create=True)
        seq = table.count_rows() + 1
        row = dict(seq=seq, action=action, cluster=cluster, args=json.dumps(args, sort_keys=True),
                   undo=json.dumps(undo or {}, sort_keys=True), user=_user(), at=datetime.now(timezone.utc))
        table.add(pa.Table.from_pylist([row], curation_schema()))
        return dict(row, args=args, undo=undo or {})


@writes
def name_cluster(store, cluster: int, name: str) -> None:
    """Set one cluster's name in the clusters table (the caller holds the writer lock)."""
    store.clusters.update(where=f"id = {int(cluster)}", values={"name": name})
