"""Models as portable folders: `vindex model export` writes one (vindex's OpenVINO layout or
immich's ONNX layout), `--model DIR` loads either through the same code with torch's vectors, and
an index records the same model identity whether torch or an exported folder made its vectors."""

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import TINY
from tests.test_backends import TEXTS, frames_for
from vindex.cli import cli
from vindex.embedding import Embedder, ModelSpec, open_embedder
from vindex.embedding.model_folder import read_model_folder
from vindex.embedding.openvino_backend import SHIPPED_TINY
from vindex.embedding.tokenizer import ClipTokenizer, vocabulary_path

MIN_COSINE = 0.999


def export(tmp_path, *args) -> str:
    out = tmp_path / "exported"
    result = CliRunner().invoke(cli, ["model", "export", *args, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return str(out)


def assert_folder_gives_torch_vectors(folder: str, reference: Embedder) -> None:
    loaded = open_embedder(ModelSpec(folder), "cpu", "fp32", "auto")
    assert loaded.backend == "openvino" and loaded.dim == reference.dim
    frames = frames_for(reference.image_size)
    assert np.sum(reference.embed_images(frames) * loaded.embed_images(frames), axis=1).min() >= MIN_COSINE
    assert np.sum(reference.embed_texts(TEXTS) * loaded.embed_texts(TEXTS), axis=1).min() >= MIN_COSINE


def test_exported_folder_loads_with_model_dir_and_gives_torch_vectors(tmp_path):
    folder = export(tmp_path, "vindex-tiny")
    assert {"image.xml", "text.xml", "model.json", "preprocess_cfg.json", "bpe_simple_vocab_16e6.txt.gz"} <= {
        p.name for p in (tmp_path / "exported").iterdir()}
    assert_folder_gives_torch_vectors(folder, Embedder(ModelSpec("vindex-tiny"), "cpu", "fp32"))


def test_immich_layout_loads_through_the_same_code(tmp_path):
    pytest.importorskip("onnx")
    folder = export(tmp_path, "vindex-tiny", "--layout", "immich")
    for name in ("visual/model.onnx", "textual/model.onnx", "textual/tokenizer.json", "preprocess_cfg.json"):
        assert (tmp_path / "exported" / name).is_file(), name
    found = read_model_folder(folder)
    assert not found.pixels_inside and found.image_size == 64
    assert_folder_gives_torch_vectors(folder, Embedder(ModelSpec("vindex-tiny"), "cpu", "fp32"))


def test_a_folder_without_identity_is_named_by_its_files_digest(tmp_path):
    pytest.importorskip("onnx")
    folder = export(tmp_path, "vindex-tiny", "--layout", "immich")
    (tmp_path / "exported" / "model.json").unlink()  # as immich publishes it: no vindex facts
    spec = ModelSpec(folder).resolved()
    assert spec.name == "exported" and spec.weights.startswith("onnx:xxh3:")


def test_shipped_tiny_model_needs_no_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("VINDEX_CACHE", str(tmp_path / "cache"))
    said = []
    embedder = open_embedder(ModelSpec("vindex-tiny"), "cpu", "fp32", "openvino", status=said.append)
    assert embedder.source.root == SHIPPED_TINY.resolve() and not said
    size = sum(path.stat().st_size for path in SHIPPED_TINY.iterdir())
    assert size < 10 * 2**20  # package data: kept small (fp16 weights)


def test_tokenizer_json_merges_give_open_clips_ids(tmp_path):
    import open_clip

    from vindex.embedding.export import _write_tokenizer_json

    _write_tokenizer_json(vocabulary_path(), tmp_path / "tokenizer.json")
    from_json = ClipTokenizer(77, tmp_path / "tokenizer.json")
    texts = [*TEXTS, "Ünïcödé & <html> entities", "don't stop 123 believing!!"]
    assert from_json(texts).tobytes() == open_clip.get_tokenizer("vindex-tiny")(texts).numpy().tobytes()


def test_torch_made_and_export_made_indexes_record_the_same_model(corpus, run, tmp_path):
    folder = export(tmp_path, "vindex-tiny")
    run("add", corpus, *TINY, "-q", "--backend", "torch", "--db", tmp_path / "by-torch")
    run("add", corpus, "--model", folder, "-q", "--db", tmp_path / "by-export")
    torch_info = json.loads(run("info", "--db", tmp_path / "by-torch", "--json").stdout)
    export_info = json.loads(run("info", "--db", tmp_path / "by-export", "--json").stdout)
    assert (torch_info["model"], torch_info["weights"]) == (export_info["model"], export_info["weights"])
    # The same model: adding with the folder to the torch-made index embeds nothing again.
    again = json.loads(run("add", corpus, "--model", folder, "--db", tmp_path / "by-torch", "--json").stdout)
    assert again["embedded"] == 0 and again["reembedded"] == 0


def test_index_made_with_a_model_folder_queries_through_it(corpus, run, tmp_path):
    folder = export(tmp_path, "vindex-tiny")
    run("add", corpus, "--model", folder, "-q", "--db", tmp_path / "db")
    hits = json.loads(run("query", "stripes", "--db", tmp_path / "db", "--json").stdout)["hits"]
    assert hits


def test_export_without_torch_is_one_line_error(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    result = CliRunner().invoke(cli, ["model", "export", "vindex-tiny", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "pip install 'vindex[torch]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["openvino", "immich"])
def test_exported_vit_b_32_gives_torch_vectors(tmp_path, layout):
    import open_clip
    import torch

    if layout == "immich":
        pytest.importorskip("onnx")
    checkpoint = tmp_path / "vit-b-32-random.pt"
    torch.manual_seed(0)
    torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), checkpoint)
    folder = export(tmp_path, "ViT-B-32", "--checkpoint", str(checkpoint), "--layout", layout)
    assert_folder_gives_torch_vectors(folder, Embedder(ModelSpec("ViT-B-32", checkpoint=str(checkpoint)), "cpu", "fp32"))


def test_an_unexported_model_without_torch_is_one_line_error(tmp_path, monkeypatch):
    from vindex.errors import VindexError

    monkeypatch.setenv("VINDEX_CACHE", str(tmp_path / "cache"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"not used")
    with pytest.raises(VindexError, match=r"--model DIR.*pip install 'vindex\[torch\]'"):
        open_embedder(ModelSpec("ViT-B-32", checkpoint=str(checkpoint)), "cpu", "auto", "auto")
