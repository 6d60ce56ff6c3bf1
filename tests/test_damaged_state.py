"""`vindex check` on damage that still reads: vectors gone bad in a data file, tables whose
versions or files are missing. Searches never show a NaN; the advice printed is run and works.

docs/reliability.md names these tests beside the promise each one holds.
"""

import json
import re
import shlex
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from vindex.schema import vectors_of
from vindex.store import Store

from tests.conftest import TINY


def overwrite_vector(db: Path, table: str, vector: np.ndarray, damaged: np.ndarray) -> int:
    """Overwrite the bytes of `vector` in every data file of `table` that holds them, as a disk
    error or a stray write would: the file still reads, the vector is wrong."""
    needle, written = vector.astype("<f4").tobytes(), 0
    for data in (db / f"{table}.lance" / "data").glob("*.lance"):
        blob = bytearray(data.read_bytes())
        at = blob.find(needle)
        while at >= 0:
            blob[at : at + len(needle)] = damaged.astype("<f4").tobytes()
            written += 1
            at = blob.find(needle, at + 1)
        data.write_bytes(bytes(blob))
    return written


def damage_vectors(db: Path) -> tuple[dict, dict]:
    """NaN, inf and a vector 3 times too long among the frames of one video; NaN as the video
    vector of another. Returns both video rows."""
    store = Store(str(db))
    first, second = store.catalog(["id", "path"]).sort_by("path").to_pylist()[:2]
    frames = vectors_of(store.frames_by_video([first["id"]]).sort_by("frame_index").column("vector"))
    for vector, damaged in ((frames[0], np.full_like(frames[0], np.nan)), (frames[1], frames[1] * 3),
                            (frames[2], np.where(np.arange(len(frames[2])) < 4, np.inf, frames[2]))):
        assert overwrite_vector(db, "frames", vector, damaged)
    video = vectors_of(store.videos_by_id([second["id"]]).column("vector"))[0]
    assert overwrite_vector(db, "videos", video, np.full_like(video, np.nan))
    return first, second


def check(run, *args: str, expect: int = 0) -> dict:
    return json.loads(run("check", "--json", *args, expect=expect).stdout)


def test_check_finds_damaged_vectors_and_repair_gets_them_embedded_again(indexed_copy, run):
    first, second = damage_vectors(indexed_copy)
    found = check(run, expect=1)
    assert found["problems"] == [f"{first['path']}: 3 vectors not finite or not of unit length (damaged)",
                                 f"{second['path']}: 1 vector not finite or not of unit length (damaged)"]
    assert "index OK: 23 videos, 110 frames" in run("check", "--repair").stdout
    repaired = check(run)
    assert repaired["ok"] and repaired["warnings"] == ["1 video waits to be embedded again by the next `vindex add`"]
    root = Store(str(indexed_copy)).meta.root
    summary = json.loads(run("add", root, *TINY, "-q", "--json").stdout)
    assert (summary["embedded"], summary["added"]) == (2, 1)
    assert run("check").stdout.strip() == "index OK: 24 videos, 120 frames"


def test_repair_says_what_it_did_with_damaged_vectors(indexed_copy, run):
    damage_vectors(indexed_copy)
    done = check(run, "--repair")["repaired"]
    assert done == [
        "removed the rows of 1 video whose own vector was damaged: the next `vindex add FOLDER` indexes its file again",
        "re-queued 1 video whose frames were missing or wrong, or whose vectors were damaged: "
        "the next `vindex add FOLDER` embeds it again",
    ]


def test_search_and_dupes_never_show_nan_or_a_numpy_warning_over_damaged_vectors(indexed_copy, run):
    first, second = damage_vectors(indexed_copy)
    root = Path(Store(str(indexed_copy)).meta.root)
    commands = [["similar", root / first["path"], "-n", "24"], ["similar", root / second["path"], "--by", "video"],
                ["similar", root / second["path"]], ["query", "stripes", "-n", "24"],
                ["query", "stripes", "--by", "video"], ["dupes", "--mode", "similar"]]
    for command in commands:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shown = run(*command)
            as_json = json.loads(run(*command, "--json").stdout)
        assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], command
        assert "nan" not in shown.stdout.lower() and "RuntimeWarning" not in shown.stderr, command
        scores = [hit["score"] for hit in as_json.get("hits", [])]
        scores += [video["score"] for group in as_json.get("groups", []) for video in group["videos"]]
        assert scores and all(np.isfinite(score) and -1.0001 <= score <= 1.0001 for score in scores), command


# -- tables whose versions, manifests or whole folder are gone --------------------------------------
def remove_versions(db: Path) -> None:
    shutil.rmtree(db / "frames.lance" / "_versions")


def remove_meta_manifests(db: Path) -> None:
    for manifest in (db / "meta.lance" / "_versions").glob("*.manifest"):
        manifest.unlink()


def remove_meta(db: Path) -> None:
    shutil.rmtree(db / "meta.lance")


ADVICE = re.compile(r"`(vindex add [^`]+)`")


@pytest.mark.parametrize(("damage", "table"), [(remove_versions, "frames"), (remove_meta_manifests, "meta"),
                                               (remove_meta, "meta")],
                         ids=["frames-versions-removed", "meta-manifests-removed", "meta-removed"])
def test_each_missing_table_is_found_and_the_advice_printed_rebuilds_it(indexed_copy, run, damage, table):
    root = Store(str(indexed_copy)).meta.root
    damage(indexed_copy)
    found = check(run, expect=1)
    assert len(found["problems"]) == 1 and found["problems"][0].startswith(f"{table}: ")
    repaired = run("check", "--repair", expect=1).stdout
    advice = ADVICE.findall(repaired)
    assert len(set(advice)) == 1, repaired
    # Where the metadata is lost, the folder and model cannot be known: the advice says which to give.
    command = advice[0].replace("FOLDER", root).replace("MODEL (the one it was built with)", "vindex-tiny")
    assert command == f"vindex add {root} --reembed --model vindex-tiny"
    run(*shlex.split(command)[1:], "-q")
    assert run("check").stdout.strip() == "index OK: 24 videos, 120 frames"
    assert "no videos" not in run("query", "stripes").output
    if table == "frames" or damage is remove_meta_manifests:
        kept = list((indexed_copy / "damaged" / f"{table}.lance").iterdir())
        assert len(kept) == 1 and list(kept[0].rglob("*.lance"))  # set aside with its data, not deleted


def test_a_missing_table_is_one_line_naming_the_damage_not_a_raw_error(indexed_copy, run):
    root = Store(str(indexed_copy)).meta.root
    remove_versions(indexed_copy)
    for command in (["info"], ["query", "red"], ["add", root, *TINY]):
        failed = run(*command, expect=1)
        assert failed.stderr.count("\n") == 1 and "is damaged" in failed.stderr, failed.stderr
        assert "ValueError" not in failed.stderr
