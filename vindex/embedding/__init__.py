"""CLIP image and text embeddings: which weights (spec), and the runtimes that run them.

Two backends make the same vectors (cosine ≥ 0.999): torch (open_clip's modules, any device) and
OpenVINO (the same modules converted once and cached; faster on a CPU, int8 on request, and a
text query that never imports torch). `open_embedder` picks one.
"""

from vindex.embedding.backends import BACKENDS, choose_backend, open_embedder
from vindex.embedding.spec import (
    DEFAULT_MODEL, DEFAULT_PRETRAINED, MODEL_CONFIG_DIR, TINY_MODEL, TINY_SEED, ModelShape, ModelSpec,
    check_model, checkpoint_digest, image_size_of, model_config, model_shape, register_tiny_model,
)
from vindex.embedding.torch_backend import BF16_MIN_COSINE, PRECISIONS, Embedder, cpu_has_bf16, pick_device

__all__ = [
    "BACKENDS", "BF16_MIN_COSINE", "DEFAULT_MODEL", "DEFAULT_PRETRAINED", "MODEL_CONFIG_DIR", "PRECISIONS",
    "TINY_MODEL", "TINY_SEED", "Embedder", "ModelShape", "ModelSpec", "check_model", "checkpoint_digest",
    "choose_backend", "cpu_has_bf16", "image_size_of", "model_config", "model_shape", "open_embedder",
    "pick_device", "register_tiny_model",
]
