"""The library's front door: `Index` and the results it returns."""

import dataclasses
import json

import vindex
from vindex import Index, ModelSpec


def test_embedder_is_the_one_for_the_spec_asked_for(indexed_copy, tmp_path):
    import torch

    index = Index(str(indexed_copy), backend="torch")
    tiny = index.embedder(ModelSpec("vindex-tiny"))
    assert index.embedder() is tiny  # the index's own model, loaded once
    assert index.embedder(ModelSpec("vindex-tiny")) is tiny
    # Other weights for the same architecture make another embedder, not the cached one.
    checkpoint = tmp_path / "tiny.pt"
    torch.save(tiny.model.state_dict(), checkpoint)
    other = index.embedder(ModelSpec("vindex-tiny", checkpoint=str(checkpoint)))
    assert other is not tiny and other.spec.checkpoint == str(checkpoint)


def test_every_public_result_is_a_dataclass_with_a_json_ready_dict(indexed_copy):
    index = Index(str(indexed_copy))
    results = [index.info(), index.query("stripes", limit=3), index.check()]
    for result in results:
        assert dataclasses.is_dataclass(result)
        json.dumps(result.to_dict())  # nothing that JSON cannot hold
    exported = {name for name in vindex.__all__ if dataclasses.is_dataclass(getattr(vindex, name, None))}
    assert {"AddSummary", "QueryResult", "ClusterResult", "OrganizePlan", "CheckResult", "IndexInfo"} <= exported
    assert all(hasattr(getattr(vindex, name), "to_dict") for name in exported - {"ModelSpec"})
