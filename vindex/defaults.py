"""Every default a user can change with an option, in one place: the CLI, the library, the Ray
engine and the benchmark scripts all read them from here, so none is written twice.

Tuning constants that belong to one stage's algorithm (and say why next to their value) stay in
that stage's module.
"""

from __future__ import annotations

# -- models -------------------------------------------------------------------------------------
MODEL = "ViT-B-32"
PRETRAINED = {"ViT-B-32": "laion2b_s34b_b79k"}  # the tag used when --pretrained is not given
TINY_MODEL = "vindex-tiny"  # random-weight model shipped with the package: offline demos and tests
# The precisions each backend runs (int8: OpenVINO on a CPU, opt-in); --precision takes any of them.
BACKEND_PRECISIONS = {"torch": ("auto", "fp32", "bf16", "fp16"), "openvino": ("auto", "fp32", "bf16", "int8")}
PRECISIONS = tuple(dict.fromkeys(name for names in BACKEND_PRECISIONS.values() for name in names))
PRECISION = "auto"
BACKENDS = ("auto", "torch", "openvino")  # auto: OpenVINO on a CPU, torch on a GPU
BACKEND = "auto"
DEVICE = "auto"

# -- add ----------------------------------------------------------------------------------------
FRAMES_PER_VIDEO = 5  # clips up to SHORT_CLIP_SECONDS, and the count --frames forced before
# Without --frames, frames follow the content (vindex/sampling.py, docs/decisions.md): clips up to
# SHORT_CLIP_SECONDS keep FRAMES_PER_VIDEO frames; longer videos get one frame per shot plus one
# every SHOT_FRAME_SECONDS inside long shots, at most FRAMES_PER_MINUTE a minute and FRAMES_PER_VIDEO_CAP.
SHORT_CLIP_SECONDS = 30.0
SHOT_FRAME_SECONDS = 10.0
FRAMES_PER_MINUTE = 12
FRAMES_PER_VIDEO_CAP = 720
# uniform: evenly spaced times; shots: the middle of the longest shots (vindex/shots.py). The
# default is the measured one (docs/decisions.md, scripts/bench_sampling.py).
SAMPLINGS = ("uniform", "shots")
SAMPLING = "shots"
BATCH_SIZE = 64  # frames per model call
COMMIT_EVERY = 256  # videos per write: what a crash can lose at most
ENGINES = ("local", "ray")
ENGINE = "local"

# -- search -------------------------------------------------------------------------------------
LIMIT = 10
RANK_BY = ("frame", "video")
RANK = "frame"
DUPLICATE_MODES = ("exact", "near", "similar")  # same bytes; same pictures (fingerprints); same scene (CLIP)
DUPLICATE_MODE = "near"
# --threshold per mode: near, the share of the shorter video's frames found in the longer one (at
# one time offset); similar, the mean best cosine of its CLIP frames against the longer one's.
DUPLICATE_THRESHOLDS = {"near": 0.7, "similar": 0.95}

# -- clusters -----------------------------------------------------------------------------------
MIN_CLUSTER_SIZE = 10
NEIGHBORS = 15
COMPONENTS = 5
METRICS = ("cosine", "euclidean")
METRIC = "cosine"
SEED = 42
# `vindex info` suggests a re-fit (`vindex cluster`) once this share of the clustered videos joined
# after the latest fit (placed by `add` into its clusters, or not placed at all).
REFIT_SHARE = 0.2

# -- reports ------------------------------------------------------------------------------------
REPORT_FOLDER = "."
THUMBNAILS_PER_CLUSTER = 8
SHOW_LIMIT = 50

# -- organize -----------------------------------------------------------------------------------
ORGANIZE_MODES = ("move", "copy", "link")
ORGANIZE_MODE = "move"
NOISE_POLICIES = ("move", "keep")
NOISE_POLICY = "move"

# -- where the index lives ----------------------------------------------------------------------
INDEX_FOLDER = ".vindex"  # found from the working directory upward, or made beside the added folder

# -- serve --------------------------------------------------------------------------------------
SERVE_HOST = "127.0.0.1"  # loopback only: any other address needs a token
SERVE_PORT = 8765
SERVE_PAGE_SIZE = 60  # videos (and so thumbnails) per cluster page
SERVE_THUMBNAIL_CACHE_MIB = 256  # on disk beside the index; the least recently used go first
# A dropped file is written to the temp folder and decoded: any real clip fits in the size, and the
# count bounds the disk and CPU that one page (or a page left open in many tabs) can take at once.
SERVE_UPLOAD_MAX_MIB = 1024
SERVE_UPLOADS_AT_ONCE = 2

# -- export -------------------------------------------------------------------------------------
EXPORT_CLIP_SECONDS = 6.0  # the length of a clip around an exported moment
