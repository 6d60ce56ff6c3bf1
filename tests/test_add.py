"""`vindex add`: incremental semantics, robustness and errors, with real tiny-model embeddings."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY
from vindex import Index, ModelSpec
from vindex.demo import make_corpus
from vindex.indexing import pipeline, plan
from vindex.store import Store

TINY_SPEC = ModelSpec("vindex-tiny")


def rows_by_path(index: Index) -> dict[str, dict]:
    table = index.store.videos.to_arrow().to_pylist()
    return {row["path"]: row for row in table}


def frames_of(index: Index, video_id: str) -> list[dict]:
    return sorted(index.store.frames_by_video([video_id]).to_pylist(), key=lambda f: f["frame_index"])


def assert_consistent(index: Index) -> None:
    """No duplicate rows, and exactly the frames that the video rows announce."""
    rows = index.store.videos.to_arrow().to_pylist()
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["path"] for r in rows}) == len(rows)
    frames = index.store.frames.to_arrow().to_pylist()
    assert len(frames) == sum(r["num_frames"] for r in rows)
    assert {f["video_id"] for f in frames} == {r["id"] for r in rows}


@pytest.fixture
def counting(monkeypatch):
    """Counts how often content is hashed and decoded."""
    calls = {"hash": 0, "decode": 0}
    real_hash, real_decode = plan.hash_file, pipeline.read_frames

    def hash_file(path):
        calls["hash"] += 1
        return real_hash(path)

    def read_frames(*args, **kwargs):
        calls["decode"] += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(plan, "hash_file", hash_file)
    monkeypatch.setattr(pipeline, "read_frames", read_frames)
    return calls


def test_first_add_embeds_every_video_with_a_unit_mean_vector(corpus):
    index = Index()
    summary = index.add(corpus, model=TINY_SPEC)
    assert (summary.added, summary.embedded, summary.failed) == (24, 24, [])
    rows = rows_by_path(index)
    assert len(rows) == 24
    row = rows["00_stripes/stripes_000.mp4"]
    assert row["channel"] == "00_stripes" and row["num_frames"] == 5
    frames = frames_of(index, row["id"])
    vectors = np.array([f["vector"] for f in frames])
    expected = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    assert np.allclose(row["vector"], expected, atol=1e-5)
    assert np.isclose(np.linalg.norm(row["vector"]), 1.0, atol=1e-5)
    times = [f["timestamp"] for f in frames]
    assert times == sorted(times) and 0 <= times[0] < times[-1] <= row["duration"]
    assert index.meta.model == "vindex-tiny" and index.meta.frames_per_video == 5


def test_unchanged_files_are_neither_read_nor_decoded(indexed, counting):
    summary = Index().add(indexed)
    assert summary.unchanged == 24 and summary.embedded == 0
    assert counting == {"hash": 0, "decode": 0}


def test_touched_file_is_hashed_but_not_embedded(indexed, counting):
    target = indexed / "01_checker" / "checker_000.mp4"
    os.utime(target, ns=(1, 1))
    summary = Index().add(indexed)
    assert summary.unchanged == 24 and counting == {"hash": 1, "decode": 0}
    assert rows_by_path(Index())["01_checker/checker_000.mp4"]["mtime_ns"] == 1


def test_renamed_and_moved_files_keep_their_vectors(indexed, counting):
    index = Index()
    before = rows_by_path(index)
    old = before["00_stripes/stripes_001.mp4"]
    (indexed / "new_channel").mkdir()
    shutil.move(indexed / "00_stripes" / "stripes_001.mp4", indexed / "new_channel" / "moved.mp4")
    os.rename(indexed / "01_checker" / "checker_002.mp4", indexed / "01_checker" / "renamed.mp4")
    summary = index.add(indexed)
    assert (summary.renamed, summary.embedded, summary.removed, summary.added) == (2, 0, 0, 0)
    assert counting["decode"] == 0
    after = rows_by_path(index)
    moved = after["new_channel/moved.mp4"]
    assert moved["id"] == old["id"] and moved["channel"] == "new_channel"
    assert np.array_equal(moved["vector"], old["vector"])
    assert "00_stripes/stripes_001.mp4" not in after and "01_checker/renamed.mp4" in after
    assert_consistent(index)


def test_identical_copies_are_embedded_once(indexed, counting):
    source = indexed / "02_rings" / "rings_000.mp4"
    shutil.copy2(source, indexed / "02_rings" / "copy one.mp4")
    shutil.copy2(source, indexed / "03_gradient" / "copy two.mp4")
    index = Index()
    summary = index.add(indexed)
    assert summary.added == 2 and summary.embedded == 0 and counting["decode"] == 0
    rows = rows_by_path(index)
    original, copy = rows["02_rings/rings_000.mp4"], rows["03_gradient/copy two.mp4"]
    assert copy["id"] != original["id"] and copy["channel"] == "03_gradient"
    assert np.array_equal(copy["vector"], original["vector"])
    assert len(frames_of(index, copy["id"])) == 5
    assert_consistent(index)


def test_identical_new_files_in_one_run_are_decoded_once(corpus, counting):
    shutil.copy2(corpus / "00_stripes" / "stripes_000.mp4", corpus / "00_stripes" / "twin.mp4")
    index = Index()
    summary = index.add(corpus, model=TINY_SPEC)
    assert summary.added == 25 and summary.embedded == 24 and counting["decode"] == 24
    rows = rows_by_path(index)
    assert np.array_equal(rows["00_stripes/twin.mp4"]["vector"], rows["00_stripes/stripes_000.mp4"]["vector"])
    assert_consistent(index)


def test_changed_content_is_reembedded_and_old_frames_replaced(indexed, tmp_path):
    index = Index()
    target = "03_gradient/gradient_000.mp4"
    before = rows_by_path(index)[target]
    fresh = make_corpus(tmp_path / "fresh", channels=1, videos_per_channel=1, seed=99, size=(96, 72), seconds=(3, 3))
    shutil.copy(fresh[0], indexed / target)
    summary = index.add(indexed)
    assert (summary.reembedded, summary.embedded, summary.added) == (1, 1, 0)
    after = rows_by_path(index)[target]
    assert after["id"] == before["id"] and after["content_hash"] != before["content_hash"]
    assert not np.allclose(after["vector"], before["vector"])
    frames = frames_of(index, after["id"])
    assert len(frames) == 5 and frames[-1]["timestamp"] > 2.0  # the new video is 3 s long
    assert_consistent(index)


def test_deleted_files_leave_the_index_only_under_the_added_folder(indexed):
    index = Index()
    os.remove(indexed / "00_stripes" / "stripes_000.mp4")
    os.remove(indexed / "01_checker" / "checker_000.mp4")
    summary = index.add(indexed / "00_stripes")
    assert summary.removed == 1 and summary.unchanged == 5
    rows = rows_by_path(index)
    assert "00_stripes/stripes_000.mp4" not in rows
    assert "01_checker/checker_000.mp4" in rows  # outside the folder added this time
    assert Index().add(indexed).removed == 1
    assert_consistent(index)


def test_run_killed_between_frame_and_video_writes_recovers_without_duplicates(corpus, monkeypatch):
    real_upsert = Store.upsert_videos
    writes = {"count": 0}

    def dies_on_third_write(self, videos):
        writes["count"] += 1
        if writes["count"] >= 3:
            raise KeyboardInterrupt  # the frames of this batch are written, its video rows never are
        return real_upsert(self, videos)

    monkeypatch.setattr(Store, "upsert_videos", dies_on_third_write)
    with pytest.raises(KeyboardInterrupt):
        Index().add(corpus, model=TINY_SPEC, commit_every=5)
    monkeypatch.setattr(Store, "upsert_videos", real_upsert)
    partial = Index()
    assert partial.store.videos.count_rows() == 10
    summary = partial.add(corpus)
    assert summary.unchanged == 10 and summary.added == 14
    assert_consistent(Index())


def test_other_frames_count_needs_reembed(indexed, run):
    result = run("add", indexed, "--frames", "3", expect=1)
    assert "--reembed" in result.stderr and "Traceback" not in result.stderr
    run("add", indexed, "--frames", "3", "--reembed", "-q")
    index = Index()
    assert index.meta.frames_per_video == 3 and index.store.count_frames() == 24 * 3
    assert_consistent(index)


def test_checkpoint_file_gives_the_same_vectors_offline(corpus, tmp_path):
    import torch

    from vindex.embedding import Embedder

    checkpoint = tmp_path / "tiny.pt"
    torch.save(Embedder(TINY_SPEC, precision="fp32").model.state_dict(), checkpoint)
    random_init = Index(str(tmp_path / "a"), precision="fp32")
    random_init.add(corpus, model=TINY_SPEC)
    offline = Index(str(tmp_path / "b"), precision="fp32")
    offline.add(corpus, model=ModelSpec("vindex-tiny", checkpoint=str(checkpoint)))
    assert offline.meta.weights.startswith("checkpoint:xxh3:")
    a, b = rows_by_path(random_init), rows_by_path(offline)
    assert a.keys() == b.keys()
    for path in a:
        assert np.allclose(a[path]["vector"], b[path]["vector"], atol=1e-5)


def test_bf16_vectors_match_fp32(corpus, tmp_path):
    from vindex.embedding import Embedder, cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 support")
    images = np.random.default_rng(3).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    fp32 = Embedder(TINY_SPEC, precision="fp32").embed_images(images)
    bf16 = Embedder(TINY_SPEC, precision="bf16")
    assert bf16.precision == "bf16"
    assert np.min(np.sum(fp32 * bf16.embed_images(images), axis=1)) > 0.999


def test_corrupt_files_are_skipped_listed_and_remembered(corpus, run, counting):
    (corpus / "00_stripes" / "empty.mp4").write_bytes(b"")
    (corpus / "00_stripes" / "text.mp4").write_text("not a video\n" * 50)
    (corpus / "01_checker" / "random.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    whole = (corpus / "02_rings" / "rings_000.mp4").read_bytes()
    (corpus / "02_rings" / "truncated.mp4").write_bytes(whole[: len(whole) // 3])
    result = run("add", corpus, *TINY, "-q")
    assert "warning: skipped 00_stripes/empty.mp4" in result.stderr
    assert "warning: skipped 00_stripes/text.mp4" in result.stderr
    assert "warning: skipped 01_checker/random.mp4" in result.stderr
    assert "24 added" in result.stdout and "failed" in result.stdout
    assert "Traceback" not in result.stderr
    decodes = counting["decode"]
    again = run("add", corpus, "--json")
    assert '"unchanged": 24' in again.stdout and "empty.mp4" in again.stdout
    assert counting["decode"] == decodes  # unchanged broken files are not decoded again


def test_odd_names_and_channels(corpus, run):
    source = corpus / "00_stripes" / "stripes_000.mp4"
    odd = corpus / "chaîne été 猫"
    odd.mkdir()
    fresh = make_corpus(corpus.parent / "fresh", channels=2, videos_per_channel=2, seed=5, size=(64, 48))
    names = ["with space.mp4", "ünïcødé 猫.mp4", "-leading-dash.mp4", "UPPER.MP4"]
    for name, video in zip(names, fresh):
        shutil.copy(video, odd / name)
    (corpus / "notes.txt").write_text("not indexed")
    (corpus / ".DS_Store").write_bytes(b"\0")
    result = run("add", corpus, *TINY, "--json")
    assert '"added": 28' in result.stdout
    rows = rows_by_path(Index())
    for name in names:
        assert f"chaîne été 猫/{name}" in rows
    assert rows["chaîne été 猫/UPPER.MP4"]["channel"] == "chaîne été 猫"
    assert source.exists()


def test_symlinks_are_not_followed_out_of_the_root(corpus, tmp_path):
    outside = tmp_path / "outside"
    make_corpus(outside, channels=1, videos_per_channel=1, seed=7, size=(64, 48))
    outside_video = next(outside.rglob("*.mp4"))
    (corpus / "00_stripes" / "link_out.mp4").symlink_to(outside_video)
    (corpus / "linked_dir").symlink_to(outside, target_is_directory=True)
    (corpus / "loop").symlink_to(corpus, target_is_directory=True)
    summary = Index().add(corpus, model=TINY_SPEC)
    assert summary.added == 24
    assert not any("link" in path or "loop" in path for path in rows_by_path(Index()))


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "missing-folder"], "no such folder"),
        (["add", "afile.mp4"], "is a file, not a folder"),
        (["add", "empty"], "no videos found"),
        (["info"], "no index"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, run):
    Path("afile.mp4").write_bytes(b"x")
    Path("empty").mkdir()
    result = run(*args, *(TINY if args[0] == "add" else []), expect=1)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_where_the_index_should_be_is_an_error(corpus, run, tmp_path):
    bogus = tmp_path / "bogus-db"
    bogus.write_text("not a database")
    result = run("add", corpus, *TINY, "--db", bogus, expect=1)
    assert "not an index folder" in result.stderr and bogus.read_text() == "not a database"


def test_index_root_is_fixed(indexed, run, tmp_path):
    other = tmp_path / "other"
    make_corpus(other, channels=1, videos_per_channel=1, size=(64, 48))
    result = run("add", other, expect=1)
    assert "--db" in result.stderr


def test_default_index_lives_beside_the_root_and_is_found_from_below(corpus, run, monkeypatch):
    monkeypatch.delenv("VINDEX_DB")
    monkeypatch.chdir(corpus.parent)
    run("add", "channels", *TINY, "-q")
    assert (corpus.parent / ".vindex").is_dir()
    monkeypatch.chdir(corpus / "00_stripes")
    assert "videos: 24" in run("info").stdout


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_finishes_without_duplicates(corpus, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    bigger = corpus.parent / "more"
    make_corpus(bigger, channels=2, videos_per_channel=30, seed=3, size=(96, 72), seconds=(1, 2))
    for video in bigger.rglob("*.mp4"):
        shutil.copy(video, corpus / "00_stripes" / f"more_{video.parent.name}_{video.name}")
    command = [sys.executable, "-m", "vindex", "add", str(corpus), *TINY, "-q", "--commit-every", "4"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
        try:
            if Index().store.videos.count_rows() >= 8:
                break
        except Exception:
            continue
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = Index().store.videos.count_rows()
    assert 0 < done_before < 84
    finish = subprocess.run(command, capture_output=True, text=True)
    assert finish.returncode == 0, finish.stderr
    index = Index()
    assert index.store.videos.count_rows() == 84
    assert_consistent(index)


def test_file_replaced_by_another_reuses_its_vectors(indexed, counting):
    index = Index()
    before = rows_by_path(index)
    os.replace(indexed / "00_stripes" / "stripes_001.mp4", indexed / "00_stripes" / "stripes_000.mp4")
    summary = index.add(indexed)
    assert (summary.reembedded, summary.removed, summary.embedded) == (1, 1, 0)
    after = rows_by_path(index)
    assert np.array_equal(after["00_stripes/stripes_000.mp4"]["vector"], before["00_stripes/stripes_001.mp4"]["vector"])
    assert "00_stripes/stripes_001.mp4" not in after
    assert_consistent(index)


def test_fast_mode_takes_keyframes_and_records_their_real_times(corpus, run, tmp_path):
    from vindex.demo import render, theme_for, write_video

    import av

    pictures = render(theme_for(3), 96, 64, 120, np.random.default_rng(2))
    video = write_video(corpus / "03_gradient" / "long.mp4", pictures, 10)
    with av.open(str(video)) as container:
        keyframes = {round(float(p.pts * p.time_base), 3) for p in container.demux(video=0) if p.is_keyframe}
    run("add", corpus, *TINY, "--fast", "-q")
    index = Index()
    frames = frames_of(index, rows_by_path(index)["03_gradient/long.mp4"]["id"])
    assert 1 <= len(frames) <= 5
    assert {round(f["timestamp"], 3) for f in frames} <= keyframes
    assert_consistent(index)
