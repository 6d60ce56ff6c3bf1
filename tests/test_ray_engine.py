"""`vindex add --engine ray` (Ray Data on a local 2-CPU Ray) and indexes on object storage (moto's S3 server)."""

import json
import logging
import shutil
import socket
import sys
import warnings

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import TINY
from vindex.demo import make_corpus
from vindex.errors import DecodeError, VindexError
from vindex.indexing.ray_runner import collect_videos, root_reason
from vindex.store import Store, storage_reason


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module: `add --engine ray` uses it instead of starting its own."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # lancedb's notice about Ray's fork+exec
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.fixture
def corpus_with_broken(corpus):
    (corpus / "03_gradient" / "broken.mp4").write_bytes(b"not a video at all")
    return corpus


def add_json(run, *args) -> dict:
    return json.loads(run("add", *args, *TINY, "-q", "--json").stdout)


def sorted_table(store: Store, name: str, keys: list[str]) -> pa.Table:
    table = getattr(store, name).to_arrow()
    return table.sort_by([(key, "ascending") for key in keys])


def vectors(table: pa.Table) -> np.ndarray:
    return np.stack(table.column("vector").to_numpy(zero_copy_only=False))


def assert_same_index(local: Store, other: Store) -> None:
    """Same rows (everything but the time of indexing) and the same vectors within float tolerance."""
    videos_a, videos_b = (sorted_table(s, "videos", ["id"]) for s in (local, other))
    assert videos_a.num_rows == videos_b.num_rows > 0
    for column in ["id", "path", "channel", "size", "mtime_ns", "content_hash", "duration", "fps", "width",
                   "height", "frame_count", "num_frames", "fingerprints", "fingerprint_times"]:
        assert videos_a.column(column).to_pylist() == videos_b.column(column).to_pylist(), column
    np.testing.assert_allclose(vectors(videos_a), vectors(videos_b), atol=1e-4)
    frames_a, frames_b = (sorted_table(s, "frames", ["video_id", "frame_index"]) for s in (local, other))
    assert frames_a.num_rows == frames_b.num_rows > 0
    for column in ["video_id", "frame_index", "timestamp", "phash", "blank"]:
        assert frames_a.column(column).to_pylist() == frames_b.column(column).to_pylist(), column
    np.testing.assert_allclose(vectors(frames_a), vectors(frames_b), atol=1e-4)
    # Recorded by the local engine's model only; and where the root lies from a local index folder.
    runtime = {"backend", "precision", "vectors_made_by", "root_from_index"}
    assert {k: v for k, v in local.meta.stored.items() if k not in runtime} == {
        k: v for k, v in other.meta.stored.items() if k not in runtime}


@pytest.mark.slow
def test_ray_engine_matches_local_engine_and_lists_broken_files(local_ray, corpus_with_broken, run, tmp_path):
    local = add_json(run, corpus_with_broken, "--db", tmp_path / "local", "--backend", "torch")  # as Ray's actors
    on_ray = add_json(run, corpus_with_broken, "--db", tmp_path / "ray", "--engine", "ray")

    assert on_ray["added"] == local["added"] == 24
    assert on_ray["frames"] == local["frames"] == 120
    # A file no worker can decode is a listed failure, not a failed run.
    assert on_ray["failed"] == local["failed"] == [
        {"path": "03_gradient/broken.mp4", "reason": local["failed"][0]["reason"], "transient": False}
    ]
    assert_same_index(Store(str(tmp_path / "local")), Store(str(tmp_path / "ray")))


@pytest.mark.slow
def test_ray_rerun_sends_out_only_changed_content(local_ray, corpus, run, tmp_path, monkeypatch):
    db = tmp_path / "ray"
    add_json(run, corpus, "--db", db, "--engine", "ray")
    import vindex.indexing.ray_runner

    def no_ray(*_):
        raise AssertionError("Ray was started for an unchanged folder")

    with monkeypatch.context() as patched:
        patched.setattr(vindex.indexing.ray_runner, "ray_session", no_ray)
        again = add_json(run, corpus, "--db", db, "--engine", "ray")
    assert (again["unchanged"], again["embedded"], again["added"]) == (24, 0, 0)

    stripes = sorted((corpus / "00_stripes").iterdir())
    shutil.copyfile(stripes[1], stripes[0])  # changed, to content the index already holds
    shutil.copyfile(stripes[1], corpus / "02_rings" / "copy.mp4")  # a new copy of known content
    unseen = make_corpus(tmp_path / "more", channels=1, videos_per_channel=1, seed=7, size=(96, 72),
                         seconds=(1.0, 1.0), fps=10)[0]
    shutil.copyfile(unseen, corpus / "00_stripes" / "unseen.mp4")
    third = add_json(run, corpus, "--db", db, "--engine", "ray")
    # Copies reuse stored vectors on the driver: only the one never-seen content goes out to Ray.
    assert (third["reembedded"], third["added"], third["embedded"], third["failed"]) == (1, 2, 1, [])
    assert Store(str(db)).videos.count_rows() == 26


@pytest.mark.slow
def test_cuda_on_a_cluster_without_gpus_is_one_line(local_ray, corpus, run):
    result = run("add", corpus, *TINY, "--engine", "ray", "--device", "cuda", "--batch-size", "256", expect=1)
    assert result.stderr == "Error: --device cuda but the Ray cluster has no GPUs\n"


def test_ray_not_installed_is_one_line(corpus, run, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = run("add", corpus, *TINY, "--engine", "ray", expect=1)
    assert result.stderr == "Error: --engine ray needs Ray Data: pip install 'vindex[ray]'\n"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_ray_address_is_one_line(corpus, run):
    pytest.importorskip("ray")
    port = closed_port()
    result = run("add", corpus, *TINY, "--engine", "ray", "--address", f"127.0.0.1:{port}", expect=1)
    assert result.stderr == f"Error: cannot connect to the Ray cluster at 127.0.0.1:{port}: Connection refused\n"


def test_address_needs_ray_engine(corpus, run):
    result = run("add", corpus, *TINY, "--address", "auto", expect=1)
    assert result.stderr == "Error: --address is for --engine ray\n"


def test_every_engine_a_user_can_name_has_a_runner():
    from vindex.defaults import ENGINES
    from vindex.indexing import RUNNERS

    assert tuple(RUNNERS) == ENGINES


def test_object_store_source_folder_is_one_line(run):
    result = run("add", "s3://bucket/channels", *TINY, expect=1)
    assert result.stderr.startswith("Error: cannot index s3://bucket/channels: source folders on object storage")
    assert result.stderr.count("\n") == 1


def frame_rows(rows: list[tuple]) -> dict[str, np.ndarray]:
    job, frame, frames, timestamp, error = (np.asarray(column) for column in zip(*rows))
    fingerprints = dict(fingerprints=[-1, 7], fingerprint_times=[0.0, 1.0], fingerprint_blank=[False, True],
                        fingerprint_weak=[True, False], fingerprint_colours=[-2, 3],
                        fingerprint_fine=[[-3, 0, 1, 2], [4, 5, 6, 7]])
    video = np.asarray([json.dumps(dict(duration=2.0, fps=10.0, width=96, height=72, frame_count=20, **fingerprints))]
                       * len(rows))
    vector = np.stack([np.full(4, float(f), np.float32) for f in frame])
    phash, blank = -np.asarray(frame, np.int64), np.asarray(frame) == 0
    return dict(job=job, frame=frame, frames=frames, timestamp=timestamp, error=error, video=video, vector=vector,
                phash=phash, blank=blank)


def test_videos_are_reassembled_from_frames_in_any_order():
    batches = [
        frame_rows([(0, 1, 2, 1.5, ""), (1, -1, 0, 0.0, "moov atom not found"), (2, 0, 1, 0.2, "")]),
        frame_rows([(0, 0, 2, 0.5, "")]),
    ]
    videos = dict(collect_videos(iter(batches)))
    assert isinstance(videos[1], DecodeError) and str(videos[1]) == "moov atom not found"
    decoded, frame_vectors, digests = videos[0]
    assert decoded.timestamps == [0.5, 1.5] and decoded.duration == 2.0 and decoded.frame_count == 20
    assert frame_vectors[:, 0].tolist() == [0.0, 1.0] and digests is None  # the pixels stayed on the workers
    # Each frame's hash travels with it, the dense fingerprints with the video (as uint64).
    assert decoded.phashes.tolist() == [0, 2**64 - 1] and decoded.blanks.tolist() == [True, False]
    assert decoded.fingerprints.tolist() == [2**64 - 1, 7] and decoded.fingerprint_blank.tolist() == [False, True]
    assert decoded.fingerprint_weak.tolist() == [True, False] and decoded.fingerprint_colours.tolist() == [2**64 - 2, 3]
    assert decoded.fingerprint_fine.tolist() == [[2**64 - 3, 0, 1, 2], [4, 5, 6, 7]]
    assert list(videos) == [1, 2, 0]  # each video as soon as its last frame arrives


class FakeActorDiedError(Exception):
    """Shaped like Ray's: the worker's exception survives only as the text of its traceback."""


def test_a_worker_error_is_reported_by_its_own_message():
    died = FakeActorDiedError(
        "The actor died because of an error raised in its creation task\n  File \"embedding.py\", line 1\n"
        "vindex.errors.VindexError: could not load ViT-B-32 with x: no such file\n"
    )
    died.__cause__ = RuntimeError("")
    assert root_reason(died) == "could not load ViT-B-32 with x: no such file"
    wrapped = RuntimeError("task failed")
    wrapped.cause = VindexError("checkpoint file not found: /x.pt")  # Ray task errors keep `.cause`
    assert root_reason(wrapped) == "checkpoint file not found: /x.pt"


def test_lost_frames_are_an_error_not_a_partial_video():
    with pytest.raises(VindexError, match="lost frames of 1 video;"):
        list(collect_videos(iter([frame_rows([(0, 0, 3, 0.5, "")])])))


# -- object storage ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server():
    """A real S3-compatible HTTP server (moto) on loopback, with one bucket."""
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    boto3.client("s3", endpoint_url=endpoint, **credentials).create_bucket(Bucket="vindex-test")
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """LanceDB reads object-store settings from the usual AWS variables."""
    for name, value in dict(AWS_ENDPOINT=s3_server, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                            AWS_REGION="us-east-1", ALLOW_HTTP="true").items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.mark.slow
def test_index_on_s3_round_trip(s3_env, corpus, run, tmp_path, request):
    uri = f"s3://vindex-test/{request.node.name}"
    first = add_json(run, corpus, "--db", uri)
    assert (first["added"], first["db"]) == (24, uri)

    info = json.loads(run("info", "--db", uri, "--json").stdout)
    assert (info["videos"], info["frames"], info["root"]) == (24, 120, str(corpus.resolve()))
    found = json.loads(run("query", "stripes", "--db", uri, "-n", "3", "--json").stdout)
    assert len(found["hits"]) == 3

    (corpus / "01_checker" / sorted(p.name for p in (corpus / "01_checker").iterdir())[0]).unlink()
    again = add_json(run, corpus, "--db", uri)
    assert (again["unchanged"], again["removed"], again["embedded"]) == (23, 1, 0)

    add_json(run, corpus, "--db", tmp_path / "local")
    assert_same_index(Store(str(tmp_path / "local")), Store(uri))


def test_missing_bucket_is_one_clear_line(s3_env, run):
    result = run("info", "--db", "s3://no-such-bucket/index", expect=1)
    assert result.stderr == (
        "Error: cannot open the index at s3://no-such-bucket/index: "
        "NoSuchBucket: The specified bucket does not exist\n"
    )


def test_storage_reason_keeps_the_message_of_a_connection_error():
    error = ValueError('IO { source: ConnectError("tcp connect error", Os { code: 111, message: "Connection refused" }) }')
    assert storage_reason(error) == "Connection refused"
