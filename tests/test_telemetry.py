"""vindex never reports usage over the network: OpenVINO and NNCF send analytics events on import
and conversion unless told not to, through a forked sender process."""

import subprocess
import sys

import pytest

pytest.importorskip("openvino")

CONVERT_WITHOUT_REPORTING = """
import os, sys
def refuse_fork():  # the sender forks from a thread: leave a mark the test can see
    open(os.environ["FORK_MARK"], "w").close()
    raise OSError("fork refused")
os.fork = refuse_fork
from vindex.embedding import ModelSpec
from vindex.embedding.openvino_backend import OpenVinoEmbedder
import numpy as np
embedder = OpenVinoEmbedder(ModelSpec("vindex-tiny"))
vectors = embedder.embed_images(np.zeros((2, embedder.image_size, embedder.image_size, 3), np.uint8))
assert vectors.shape[0] == 2
import nncf  # its telemetry wrapper is built on import
import time
time.sleep(1)  # the sender's thread would fork by now
"""


@pytest.mark.slow
def test_openvino_conversion_reports_nothing(tmp_path):
    result = subprocess.run([sys.executable, "-c", CONVERT_WITHOUT_REPORTING], capture_output=True, text=True,
                            env={"VINDEX_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
                                 "HOME": str(tmp_path), "FORK_MARK": str(tmp_path / "forked")}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "forked").exists(), "OpenVINO's telemetry sender ran"
