"""Which runtime runs the model: torch on GPUs, OpenVINO on CPUs where it is installed.

The choice is made without importing torch when there is no sign of a GPU, so a text query on a
CPU with a cached OpenVINO model never pays the seconds torch takes to import.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from vindex.defaults import BACKENDS
from vindex.embedding.spec import ModelSpec
from vindex.errors import VindexError
from vindex.results import StatusHook

# Device nodes a CUDA or ROCm driver creates; without them torch.cuda cannot find a GPU either.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")
INSTALL_OPENVINO = "pip install openvino"
INSTALL_TORCH = "pip install 'vindex[torch]'"


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("open_clip") is not None


def may_have_gpu() -> bool:
    """Whether torch might find a GPU: asked only then, since importing torch takes seconds."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    return any(Path(node).exists() for node in GPU_DEVICE_NODES)


def choose_backend(device: str | None, precision: str, backend: str = "auto") -> str:
    """"torch" or "openvino" for this device and precision; one-line errors for combinations
    that cannot run (int8 on torch, OpenVINO on a GPU or not installed)."""
    if backend not in BACKENDS:
        raise VindexError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")
    on_cpu = device in (None, "auto", "cpu")
    if backend == "torch":
        if not torch_installed():
            raise VindexError(f"the torch backend is not installed: {INSTALL_TORCH}")
        if precision == "int8":
            raise VindexError("int8 runs on the OpenVINO backend: use --backend openvino (or auto) on the CPU")
        return "torch"
    if backend == "openvino" or precision == "int8":
        if not openvino_installed():
            raise VindexError(f"the OpenVINO backend is not installed: {INSTALL_OPENVINO}")
        if not on_cpu:
            raise VindexError(f"the OpenVINO backend runs on the CPU, not {device}: use --device cpu or --backend torch")
        if precision == "fp16":
            raise VindexError("fp16 is for CUDA: on the CPU use --precision bf16, fp32 or int8")
        return "openvino"
    if not on_cpu or precision == "fp16" or not openvino_installed():
        if not torch_installed():
            raise VindexError(f"{device or precision} needs the torch backend: {INSTALL_TORCH}")
        return "torch"
    if device in (None, "auto") and may_have_gpu() and torch_installed():
        from vindex.embedding.torch_backend import pick_device

        if pick_device(device) != "cpu":
            return "torch"
    return "openvino"


def open_embedder(
    spec: ModelSpec, device: str | None = None, precision: str = "auto", backend: str = "auto",
    status: StatusHook | None = None, calibration: Callable[[int, int], np.ndarray] | None = None,
):
    """A loaded model (torch `Embedder` or `OpenVinoEmbedder`): frames and texts in, unit vectors out.

    `calibration`: (count, size) → frames of the user's videos, which calibrate int8 (the first time only).
    """
    spec = spec.resolved()
    chosen = choose_backend(device, precision, backend)
    if spec.folder and chosen == "torch":
        raise VindexError(f"a model folder ({spec.folder}) runs on OpenVINO, on the CPU: use --backend openvino")
    if chosen == "openvino":
        from vindex.embedding.openvino_backend import OpenVinoEmbedder

        return OpenVinoEmbedder(spec, precision, status, calibration)
    from vindex.embedding.torch_backend import Embedder

    return Embedder(spec, device, precision)


def provenance(embedder) -> dict:
    """What an index records about the runtime that made its vectors (and int8's measured fidelity)."""
    facts = {"backend": embedder.backend, "precision": embedder.precision}
    if getattr(embedder, "fidelity", None):
        facts["int8_fidelity"] = embedder.fidelity
    return facts
