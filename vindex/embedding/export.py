"""A model written out as portable files (`vindex model export`): needs torch and open_clip, once.

The towers are traced from the same open_clip module the torch backend runs, so an exported model
makes the torch backend's vectors. Two layouts (see `model_folder`): vindex's OpenVINO IR, whose
image tower takes uint8 frames with the normalisation inside, and immich's ONNX files.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import warnings
from pathlib import Path

from vindex.embedding.model_folder import (
    FACTS_FILE, IMAGE_IR, IMMICH_CONFIG, IMMICH_IMAGE, IMMICH_TEXT, IMMICH_TOKENIZER, PREPROCESS_FILE, TEXT_IR,
    VOCABULARY_FILE, preprocess_config,
)
from vindex.embedding.spec import ModelSpec, model_config
from vindex.errors import VindexError

LAYOUTS = ("openvino", "immich")
# Batch of the example inputs the towers are traced with; the batch dimension stays dynamic.
TRACE_BATCH = 2
ONNX_OPSET = 17
INSTALL_TORCH = "pip install 'vindex[torch]'"


def require_torch(what: str) -> None:
    """One line, not a traceback, where torch or open_clip is missing."""
    missing = [name for name in ("torch", "open_clip") if importlib.util.find_spec(name) is None]
    if missing:
        raise VindexError(f"{what} needs {' and '.join(missing)}: {INSTALL_TORCH}")


def export_model(spec: ModelSpec, folder: Path, layout: str = "openvino", fp16_text_weights: bool = False) -> dict:
    """Write `spec`'s towers, tokenizer and preprocessing into `folder`; returns the model's facts.
    `fp16_text_weights` halves the text tower's IR (the runtime computes in f32 or bf16 either way);
    the image tower, whose vectors the index keeps, stays in fp32 so they equal torch's."""
    if layout not in LAYOUTS:
        raise VindexError(f"unknown layout {layout!r}: use {', '.join(LAYOUTS)}")
    require_torch("exporting a model")
    from vindex.embedding.tokenizer import vocabulary_path
    from vindex.embedding.torch_backend import Embedder

    model = Embedder(spec, "cpu", "fp32")
    folder.mkdir(parents=True, exist_ok=True)
    text_config = (model_config(model.spec.name) or {}).get("text_cfg", {})
    plain_bpe = not (text_config.get("hf_tokenizer_name") or text_config.get("tokenizer_kwargs")
                     or "siglip" in model.spec.name.lower())
    if not plain_bpe and layout == "immich":
        raise VindexError(f"{model.spec.name} does not use CLIP's BPE tokenizer, which immich's layout carries")
    facts = {"model": model.spec.name, "weights": model.spec.weights, "dim": model.dim,
             "image_size": model.image_size, "context_length": model.context_length, "layout": layout,
             "tokenizer": "clip-bpe" if plain_bpe else "open_clip"}
    (folder / PREPROCESS_FILE).write_text(json.dumps(preprocess_config(model.image_size, model.mean, model.std), indent=1))
    if layout == "openvino":
        facts["openvino"] = _write_openvino(model, folder, fp16_text_weights)
        if plain_bpe:
            shutil.copyfile(vocabulary_path(), folder / VOCABULARY_FILE)
    else:
        _write_onnx(model, folder)
        (folder / IMMICH_CONFIG).write_text(json.dumps(model_config(model.spec.name) or {}, indent=1))
        _write_tokenizer_json(vocabulary_path(), folder / IMMICH_TOKENIZER)
    (folder / FACTS_FILE).write_text(json.dumps(facts, indent=1))
    return facts


def _write_openvino(model, folder: Path, fp16_text_weights: bool) -> str:
    import torch

    from vindex.embedding.openvino_runtime import import_openvino, openvino_version

    openvino = import_openvino()
    image_tower, text_tower = towers(model, pixels_inside=True)
    size, context = model.image_size, model.context_length
    frames = torch.zeros((TRACE_BATCH, size, size, 3), dtype=torch.uint8)
    tokens = torch.zeros((TRACE_BATCH, context), dtype=torch.int64)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notice, OpenVINO's tracer notes
        image_ir = openvino.convert_model(image_tower, example_input=frames, input=[([-1, size, size, 3], openvino.Type.u8)])
        text_ir = openvino.convert_model(text_tower, example_input=tokens, input=[([-1, context], openvino.Type.i64)])
    # Full-precision weights: the runtime picks bf16 or f32 when it compiles, and int8 calibrates
    # against these.
    openvino.save_model(image_ir, str(folder / IMAGE_IR), compress_to_fp16=False)
    openvino.save_model(text_ir, str(folder / TEXT_IR), compress_to_fp16=fp16_text_weights)
    return openvino_version()


def _write_onnx(model, folder: Path) -> None:
    import torch

    if importlib.util.find_spec("onnx") is None:
        raise VindexError(f"the immich layout is ONNX, which needs the onnx package: {INSTALL_TORCH}")
    image_tower, text_tower = towers(model, pixels_inside=False)
    size, context = model.image_size, model.context_length
    for tower, example, path, name in (
        (image_tower, torch.zeros((TRACE_BATCH, 3, size, size)), folder / IMMICH_IMAGE, "image"),
        (text_tower, torch.zeros((TRACE_BATCH, context), dtype=torch.int64), folder / IMMICH_TEXT, "text"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        fastpath = torch.backends.mha.get_fastpath_enabled()
        # Attention's fused fast path is one operator that ONNX has no equivalent for.
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(tower, (example,), str(path), dynamo=False, opset_version=ONNX_OPSET,
                                  input_names=[name], output_names=["embedding"],
                                  dynamic_axes={name: {0: "batch"}, "embedding": {0: "batch"}})
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)


def _write_tokenizer_json(vocabulary: Path, path: Path) -> None:
    """The BPE merges as a Hugging Face tokenizer.json holds them (the part the tokenizer reads)."""
    from vindex.embedding.tokenizer import read_merges

    path.parent.mkdir(parents=True, exist_ok=True)
    merges = [" ".join(pair) for pair in read_merges(vocabulary)]
    path.write_text(json.dumps({"model": {"type": "BPE", "merges": merges}}))


def towers(embedder, pixels_inside: bool = True):
    """The image tower (uint8 NHWC frames in with the pixel normalisation built in, or normalised
    float NCHW pixels in) and the text tower (token ids in), as modules that can be traced."""
    import torch

    model = embedder.model.requires_grad_(False)

    class ImageTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.register_buffer("mean", torch.from_numpy(embedder.mean * 255.0).view(1, 3, 1, 1))
            self.register_buffer("std", torch.from_numpy(embedder.std * 255.0).view(1, 3, 1, 1))

        def forward(self, frames):
            if not pixels_inside:
                return self.model.encode_image(frames)
            pixels = (frames.permute(0, 3, 1, 2).float() - self.mean) / self.std
            return self.model.encode_image(pixels)

    class TextTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, tokens):
            return self.model.encode_text(tokens)

    return ImageTower().eval(), TextTower().eval()
