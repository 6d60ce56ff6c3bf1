"""torch and OpenVINO make the same vectors; the IR is converted once; int8 is gated; the choice
of backend and what it ran at are recorded; a cold text query imports no torch; an offline
default model fails fast without leaving an index behind."""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import TINY
from vindex.embedding import Embedder, ModelSpec, choose_backend, open_embedder
from vindex.errors import VindexError

pytest.importorskip("openvino")

TINY_SPEC = ModelSpec("vindex-tiny")
TEXTS = ["a cat on a sofa", "neon abstract city at night", "日本語 🎉", "x"]
MIN_COSINE = 0.999


def frames_for(size: int, count: int = 6) -> np.ndarray:
    """Random pixels plus smooth gradients: both kinds of input a decoder gives."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (count // 2, size, size, 3), np.uint8)
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    smooth = [np.stack([x, y, 1 - x], axis=-1) * 255 * (k + 1) / count for k in range(count - count // 2)]
    return np.concatenate([noise, np.asarray(smooth, dtype=np.uint8)])


def assert_same_vectors(spec: ModelSpec, precision: str) -> None:
    reference = Embedder(spec, "cpu", "fp32")
    converted = open_embedder(spec, "cpu", precision, "openvino")
    frames = frames_for(reference.image_size)
    for batch in (frames[:1], frames):
        cosines = np.sum(reference.embed_images(batch) * converted.embed_images(batch), axis=1)
        assert cosines.min() >= MIN_COSINE, cosines
    for texts in (TEXTS[:1], TEXTS):
        cosines = np.sum(reference.embed_texts(texts) * converted.embed_texts(texts), axis=1)
        assert cosines.min() >= MIN_COSINE, cosines
    assert converted.dim == reference.dim and converted.image_size == reference.image_size


@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_openvino_vectors_equal_torch_fp32_on_the_tiny_model(precision):
    assert_same_vectors(TINY_SPEC, precision)


@pytest.mark.slow
def test_openvino_vectors_equal_torch_fp32_on_vit_b_32(tmp_path):
    import open_clip
    import torch

    checkpoint = tmp_path / "vit-b-32-random.pt"
    torch.manual_seed(0)
    torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), checkpoint)
    for precision in ("fp32", "auto"):
        assert_same_vectors(ModelSpec("ViT-B-32", checkpoint=str(checkpoint)), precision)


def test_ir_is_converted_once_into_the_cache_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("VINDEX_CACHE", str(tmp_path / "cache"))
    # A checkpoint of the tiny model: weights that no shipped model folder holds, so they convert.
    checkpoint = tmp_path / "tiny.pt"
    import torch

    torch.save(Embedder(TINY_SPEC, "cpu", "fp32").model.state_dict(), checkpoint)
    spec = ModelSpec("vindex-tiny", checkpoint=str(checkpoint))
    said = []
    first = open_embedder(spec, "cpu", "fp32", "openvino", status=said.append)
    assert len(said) == 1 and said[0].startswith("converting vindex-tiny to OpenVINO")
    import openvino

    version = openvino.__version__.split("-")[0]
    assert first.folder.is_relative_to(tmp_path / "cache") and version in str(first.folder)
    assert {p.name for p in first.source.root.iterdir()} >= {"image.xml", "image.bin", "text.xml", "text.bin",
                                                             "model.json", "preprocess_cfg.json"}
    second = open_embedder(spec, "cpu", "fp32", "openvino", status=said.append)
    assert len(said) == 1  # no second conversion
    frames = frames_for(first.image_size, 2)
    assert np.allclose(first.embed_images(frames), second.embed_images(frames), atol=1e-6)


def test_auto_picks_openvino_on_a_cpu_and_refuses_what_cannot_run():
    assert choose_backend("cpu", "auto", "auto") == "openvino"
    assert choose_backend("cpu", "int8", "auto") == "openvino"
    assert choose_backend("cpu", "fp16", "auto") == "torch"
    assert choose_backend("cuda", "auto", "auto") == "torch"
    assert choose_backend("cpu", "auto", "torch") == "torch"
    for device, precision, backend in [("cpu", "int8", "torch"), ("cuda", "auto", "openvino"),
                                       ("cpu", "fp16", "openvino"), ("cpu", "auto", "onnx")]:
        with pytest.raises(VindexError):
            choose_backend(device, precision, backend)


def test_add_records_backend_and_precision_and_both_backends_find_the_same(corpus, run, tmp_path):
    facts = {}
    for backend in ("torch", "openvino"):
        db = tmp_path / backend
        run("add", corpus, *TINY, "-q", "--db", db, "--backend", backend, "--precision", "fp32")
        facts[backend] = json.loads(run("info", "--db", db, "--json").stdout)
        hits = json.loads(run("query", "stripes", "--db", db, "--json", "--backend", backend).stdout)["hits"]
        facts[backend]["top"] = [hit["path"] for hit in hits[:3]]
    assert facts["torch"]["backend"] == "torch" and facts["openvino"]["backend"] == "openvino"
    assert facts["torch"]["precision"] == facts["openvino"]["precision"] == "fp32"
    assert facts["openvino"]["vectors_made_by"] == ["openvino fp32"]
    assert facts["torch"]["top"] == facts["openvino"]["top"]


def add_int8(run, corpus, db, monkeypatch, threshold: float):
    from vindex.embedding import quantize

    monkeypatch.setattr(quantize, "INT8_MIN_COSINE", threshold)
    result = run("add", corpus, *TINY, "-q", "--db", db, "--precision", "int8", "--json")
    assert json.loads(result.stdout)["added"] == 24  # NNCF's progress bars kept off stdout
    return result, json.loads(run("info", "--db", db, "--json").stdout)


@pytest.mark.slow
def test_int8_that_passes_the_gate_is_used_and_its_fidelity_recorded(corpus, run, tmp_path, monkeypatch):
    monkeypatch.setenv("VINDEX_CACHE", str(tmp_path / "cache"))
    _, info = add_int8(run, corpus, tmp_path / "db", monkeypatch, threshold=0.0)
    assert info["precision"] == "int8" and info["backend"] == "openvino"
    fidelity = info["int8_fidelity"]
    assert fidelity["accepted"] and 0.9 < fidelity["mean_cosine"] <= 1.0 and fidelity["held_back_frames"] > 0
    assert fidelity["calibration_frames"] + fidelity["held_back_frames"] <= 120  # 24 videos x 5 frames


def test_int8_below_the_gate_falls_back_with_one_line(corpus, run, tmp_path, monkeypatch):
    monkeypatch.setenv("VINDEX_CACHE", str(tmp_path / "cache"))
    result, info = add_int8(run, corpus, tmp_path / "db", monkeypatch, threshold=1.01)
    assert info["precision"] in ("fp32", "bf16") and info["backend"] == "openvino"
    assert info["int8_fidelity"]["accepted"] is False
    said = [line for line in result.stderr.splitlines() if "int8 kept a mean cosine" in line]
    assert len(said) == 1 and said[0].startswith("warning: ")


def test_int8_on_torch_is_one_line_error(corpus, run):
    result = run("add", corpus, *TINY, "-q", "--backend", "torch", "--precision", "int8", expect=1)
    assert "OpenVINO" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cold_text_query_imports_no_torch(indexed_copy, run, tmp_path):
    run("query", "warm the text model's cache", "--json")  # converts the model, once
    environment = {**os.environ, "VINDEX_DB": str(indexed_copy)}
    command = [sys.executable, "-X", "importtime", "-m", "vindex", "query", "stripes", "--json"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["hits"]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    assert "openvino" in imported
    assert not {name for name in imported if re.match(r"(torch|open_clip|torchvision)(\.|$)", name)}
    assert seconds < 30  # a generous bound for a shared test machine; scripts/bench_cold_query.py measures it


def test_offline_default_model_fails_fast_in_one_line_and_leaves_no_index(corpus, run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    for variable, value in [("HF_HUB_OFFLINE", "1"), ("HF_ENDPOINT", "http://127.0.0.1:9")]:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv(variable, value)
        monkeypatch.delenv("VINDEX_DB", raising=False)  # the default location: a new .vindex beside the folder
        started = time.perf_counter()
        result = run("add", corpus, "-q", expect=1)
        assert time.perf_counter() - started < 5
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--checkpoint FILE" in lines[0] and "--model vindex-tiny" in lines[0]
        assert str(tmp_path / "empty-hub") in lines[0]
        assert not (corpus.parent / ".vindex").exists()


def test_bf16_that_overflows_on_real_frames_falls_back_to_f32_for_good(monkeypatch, caplog):
    """A reduced precision can pass the probe and still overflow on some frames: those frames, and
    every later one, are embedded in f32, and the verdict is kept for the next run."""
    from vindex.embedding import openvino_backend

    embedder = open_embedder(TINY_SPEC, "cpu", "auto", "openvino")
    frames = frames_for(embedder.image_size)
    reference = Embedder(TINY_SPEC, "cpu", "fp32").embed_images(frames)
    embedder._image_model()
    embedder._precision = "bf16"  # as on a CPU with bf16, whatever this one has
    overflowing = embedder._image
    embedder._image = lambda pixels: [np.full((len(pixels), embedder.dim), np.nan, np.float32)]
    with caplog.at_level("WARNING", logger="vindex"):
        vectors = embedder.embed_images(frames)
    assert np.isfinite(vectors).all() and embedder.precision == "fp32"
    assert np.sum(reference * vectors, axis=1).min() >= MIN_COSINE
    assert "using f32" in caplog.text
    verdicts = json.loads((embedder.folder / openvino_backend.PRECISION_CHECK_FILE).read_text())
    assert verdicts["image auto"] == "fp32"
    assert overflowing is not embedder._image
