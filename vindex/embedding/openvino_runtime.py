"""What the OpenVINO backend and int8 quantisation share: the runtime's import, compiling a model
in a precision, and the names of the files a model folder holds."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from vindex.errors import VindexError, first_line

# OpenVINO's names for the precisions it computes in on a CPU.
INFERENCE_TYPES = {"fp32": "f32", "bf16": "bf16"}
IMAGE_IR, TEXT_IR = "image.xml", "text.xml"


def import_openvino():
    """The `openvino` module, imported with its usage reporting switched off.

    Importing OpenVINO (and running its converter or NNCF) sends events to a web analytics service
    unless a consent file in the user's home says no. A local video index has no business doing
    that, and there may be no network at all. Both packages fall back to a no-op when their
    telemetry package cannot be imported, which a None entry in sys.modules makes so.
    """
    sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


def openvino_version() -> str:
    return importlib.metadata.version("openvino")


def compile_model(core, path: Path, precision: str):
    """`path` (IR or ONNX) compiled for the CPU, computing in `precision` where OpenVINO names it."""
    config = {"INFERENCE_PRECISION_HINT": INFERENCE_TYPES[precision]} if precision in INFERENCE_TYPES else {}
    try:
        return core.compile_model(str(path), "CPU", config)
    except RuntimeError as error:
        raise VindexError(f"OpenVINO could not compile {path}: {first_line(error)}") from None


def computed_precision(compiled) -> str:
    hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    return {"bf16": "bf16", "f16": "fp16"}.get(hint, "fp32")
