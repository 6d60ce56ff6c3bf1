"""Curation: rename, merge, move, split and undo change the clusters at once, are recorded as rows
(who, what, when), and survive a re-fit (`vindex cluster` again) and an `add`; a retune re-labels
from the saved layout without UMAP."""

import getpass
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import TINY
from vindex import schema
from vindex.clustering import ClusterParams
from vindex.index import Index
from vindex.organizing.names import cluster_folders, readable
from vindex.store import Store

SMALL = ["--min-size", "4", "--neighbors", "8"]
PARAMS = ClusterParams(min_size=4, neighbors=8)


@pytest.fixture(scope="session")
def clustered_template(indexed_template, tmp_path_factory) -> Path:
    """The session's indexed corpus (4 channels x 6 videos), clustered once: one cluster per channel."""
    db = tmp_path_factory.mktemp("clustered") / "index.vindex"
    shutil.copytree(indexed_template, db)
    Index(str(db)).cluster(PARAMS)
    return db


@pytest.fixture
def clustered(clustered_template, isolated_index) -> Path:
    """A private copy of the clustered index at this test's VINDEX_DB (the videos are shared: read only)."""
    shutil.copytree(clustered_template, isolated_index)
    return isolated_index


def labels(db) -> dict[str, int]:
    table = Store(str(db)).catalog(["path", "cluster"])
    return dict(zip(table.column("path").to_pylist(), table.column("cluster").to_pylist()))


def by_channel(db) -> dict[str, int]:
    """channel folder → the cluster of its first video (the fixture's clusters are the channels)."""
    return {path.split("/")[0]: cluster for path, cluster in sorted(labels(db).items(), reverse=True)}


def overview(run) -> dict[int, dict]:
    return {row["id"]: row for row in json.loads(run("show", "--json").stdout)}


def test_rename_shows_everywhere_and_is_recorded_with_who_and_when(clustered, run, tmp_path):
    result = json.loads(run("cluster", "rename", "0", "  Zoë's   favourite clips ", "--json").stdout)
    assert result["action"] == "rename" and result["name"] == "Zoë's favourite clips" and result["seq"] == 1
    assert overview(run)[0]["name"] == "Zoë's favourite clips"
    assert "Zoë's favourite clips" in run("show", "0").stdout
    run("report", "--out", tmp_path / "report", "--no-picture", "--thumbnails", "1", "-q")
    report = json.loads((tmp_path / "report" / "cluster_analysis.json").read_text())
    assert "Zoë's favourite clips" in json.dumps(report, ensure_ascii=False)
    assert "Zoë&#x27;s favourite clips" in (tmp_path / "report" / "clusters.html").read_text()
    history = json.loads(run("cluster", "history", "--json").stdout)
    [row] = history["rows"]
    assert (row["action"], row["cluster"], row["user"], row["args"]) == (
        "rename", 0, getpass.getuser(), {"name": "Zoë's favourite clips"})
    assert row["at"].startswith("20") and history["decisions"] == 1
    info = json.loads(run("info", "--json").stdout)
    assert info["curation"] == {"decisions": 1, "rows": 1}
    assert "1 decision in force" in run("info").stdout


def test_bad_curation_input_is_one_line_and_changes_nothing(clustered, run):
    before = labels(clustered)
    for args in (["rename", "99", "x"], ["rename", "0", "   "], ["rename", "zero", "x"], ["merge", "0", "0"],
                 ["merge", "0", "42"], ["move", "no/such.mp4", "--to", "0"], ["move", "x", "--to", "7"],
                 ["split", "77"], ["undo"]):
        result = run("cluster", *args, expect=1)
        assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1, args
    assert labels(clustered) == before
    assert Index().curation_history().rows == []


def test_merge_keeps_the_first_id_and_undo_brings_the_other_back(clustered, run):
    channels = by_channel(clustered)
    first, second = channels["00_stripes"], channels["01_checker"]
    names = {row["id"]: row["name"] for row in overview(run).values()}
    result = json.loads(run("cluster", "merge", first, second, "--json").stdout)
    assert result["videos"] == 6 and result["clusters"] == [first, second]
    shown = overview(run)
    assert second not in shown and shown[first]["size"] == 12 and shown[first]["name"] == names[first]
    run("cluster", "undo")
    shown = overview(run)
    assert shown[first]["size"] == shown[second]["size"] == 6 and shown[second]["name"] == names[second]
    assert by_channel(clustered) == channels
    rows = Index().curation_history().rows
    assert [(row["action"], row["undone"]) for row in rows] == [("merge", True), ("undo", False)]


def test_move_takes_a_relative_path_a_real_path_or_an_id(clustered, run):
    root = Path(Store(str(clustered)).meta.root)
    before = labels(clustered)
    paths = sorted(path for path in before if path.startswith("00_stripes/"))
    target = by_channel(clustered)["01_checker"]
    catalog = Store(str(clustered)).catalog(["id", "path"]).to_pylist()
    video_id = next(row["id"] for row in catalog if row["path"] == paths[2])
    result = json.loads(run("cluster", "move", paths[0], str(root / paths[1]), video_id, "--to", target,
                            "--json").stdout)
    assert result["videos"] == 3
    after = labels(clustered)
    assert after[paths[0]] == after[paths[1]] == after[paths[2]] == target
    run("cluster", "move", paths[3], "--to", "noise")
    assert labels(clustered)[paths[3]] == -1 and overview(run)[-1]["size"] == 1


def test_split_reclusters_one_cluster_and_undo_joins_it_again(clustered, run):
    channels = by_channel(clustered)
    first, second = channels["00_stripes"], channels["02_rings"]
    run("cluster", "merge", first, second)
    result = json.loads(run("cluster", "split", first, "--min-size", "3", "--json").stdout)
    assert result["action"] == "split" and len(result["clusters"]) == 2 and result["videos"] == 6
    after = by_channel(clustered)
    assert after["00_stripes"] != after["02_rings"] and first in (after["00_stripes"], after["02_rings"])
    new = ({after["00_stripes"], after["02_rings"]} - {first}).pop()
    assert new not in channels.values()  # a fresh id: not even the merged-away one's
    assert overview(run)[new]["size"] == 6
    run("cluster", "undo")
    joined = by_channel(clustered)
    assert joined["00_stripes"] == joined["02_rings"] == first


def test_a_second_split_of_a_cluster_names_its_new_part_apart_from_the_first_splits(clustered, run):
    channels = by_channel(clustered)
    first, rings = channels["00_stripes"], channels["02_rings"]
    third = next(cluster for _, cluster in sorted(channels.items()) if cluster not in (first, rings))
    run("cluster", "merge", first, rings)
    run("cluster", "split", first, "--min-size", "3")  # the rings' part: "<name> (2)"
    run("cluster", "merge", first, third)
    run("cluster", "split", first, "--min-size", "3")  # the third's part: not "<name> (2)" again
    names = [row["name"] for row in overview(run).values() if row["id"] >= 0]
    assert len(names) == len(set(names)) == 4, names


def test_a_split_refused_at_the_smallest_min_size_does_not_ask_for_a_smaller_one(clustered, run):
    channels = by_channel(clustered)
    first, second = channels["00_stripes"], channels["02_rings"]
    paths = sorted(path for path, cluster in labels(clustered).items() if cluster == first)
    run("cluster", "move", *paths[3:], "--to", second)  # 3 videos left: no two parts of 2
    refused = run("cluster", "split", first, "--min-size", "2", expect=1)
    assert refused.output.startswith("Error: ") and len(refused.output.strip().splitlines()) == 1
    assert "smaller --min-size" not in refused.output and "2 is the smallest" in refused.output
    assert "try a smaller --min-size" in run("cluster", "split", first, "--min-size", "3", expect=1).output


@pytest.mark.slow
def test_names_merges_and_pins_survive_a_refit(clustered, run):
    channels = by_channel(clustered)
    stripes, checker, rings = channels["00_stripes"], channels["01_checker"], channels["02_rings"]
    pinned = sorted(path for path in labels(clustered) if path.startswith("03_gradient/"))[:2]
    run("cluster", "rename", rings, "Beach trips")
    run("cluster", "merge", stripes, checker)
    run("cluster", "move", pinned[0], "--to", rings)
    run("cluster", "move", pinned[1], "--to", "noise")
    run("cluster", *SMALL, "--no-report", "-q")  # a full re-fit: UMAP and HDBSCAN again
    after = labels(clustered)
    refit = by_channel(clustered)
    assert refit["00_stripes"] == refit["01_checker"] == stripes
    assert overview(run)[rings]["name"] == "Beach trips" and refit["02_rings"] == rings
    assert after[pinned[0]] == rings and after[pinned[1]] == -1
    assert json.loads(run("info", "--json").stdout)["curation"]["decisions"] == 4


@pytest.mark.slow
def test_add_never_moves_a_pinned_video(corpus, run, tmp_path):
    run("add", corpus, *TINY, "-q")
    run("cluster", *SMALL, "--no-report", "-q")
    pinned = sorted(path for path in labels(os.environ["VINDEX_DB"]) if path.startswith("00_stripes/"))[0]
    run("cluster", "move", pinned, "--to", "noise")
    # The pinned file is renamed on disk: `add` follows it, and its row keeps the user's cluster.
    source = corpus / pinned
    source.rename(source.with_name("renamed.mp4"))
    shutil.copy(corpus / sorted(path for path in labels(os.environ["VINDEX_DB"]) if path.startswith("01_"))[0],
                corpus / "01_checker" / "copy.mp4")
    run("add", corpus, "-q")
    after = labels(os.environ["VINDEX_DB"])
    assert after["00_stripes/renamed.mp4"] == -1
    assert after["01_checker/copy.mp4"] is not None and after["01_checker/copy.mp4"] >= 0


def test_a_pinned_video_waiting_for_placement_is_not_reassigned(clustered, run):
    from vindex.clustering.assign import assign_new

    path = sorted(path for path in labels(clustered) if path.startswith("00_stripes/"))[0]
    run("cluster", "move", path, "--to", "noise")
    store = Store(str(clustered))
    video = store.catalog(["id", "path"]).filter(pa.compute.equal(pa.compute.field("path"), path)) \
        .column("id").to_pylist()[0]
    store.write_cluster_labels(pa.table({"id": [video], "cluster": pa.array([None], pa.int32())}))
    assign_new(store)
    assert labels(clustered)[path] is None


@pytest.mark.slow
def test_retune_relabels_from_the_saved_layout_and_keeps_names(clustered, run):
    channels = by_channel(clustered)
    run("cluster", "rename", channels["02_rings"], "Beach trips")
    preview = Index().retune_preview(ClusterParams(min_size=13, neighbors=8))
    assert preview.num_clusters == 0 and preview.noise == 24 and labels(clustered) != {}
    assert by_channel(clustered) == channels  # a preview writes nothing
    result = json.loads(run("cluster", "--min-size", "3", "--neighbors", "8", "--retune", "--no-report",
                            "--json").stdout)
    assert result["method"] == "retune" and "umap" not in result["seconds"]
    assert by_channel(clustered) == channels and overview(run)[channels["02_rings"]]["name"] == "Beach trips"
    refused = run("cluster", "--min-size", "3", "--neighbors", "9", "--retune", "--no-report", "-q", expect=1)
    assert "neighbors" in refused.output and len(refused.output.strip().splitlines()) == 1


def test_organize_names_user_named_folders_as_typed(indexed, run, tmp_path):
    run("cluster", *SMALL, "--no-report", "-q")
    cluster = by_channel(os.environ["VINDEX_DB"])["00_stripes"]
    run("cluster", "rename", cluster, "Zoë's favourite clips")
    dest = tmp_path / "sorted"
    names = sorted(p.name for p in (indexed / "00_stripes").iterdir())
    run("organize", "--dest", dest, "--apply", "-q")
    assert sorted(p.name for p in (dest / "Zoë's favourite clips").iterdir()) == names


def test_folder_names_from_user_names_stay_readable_and_unique():
    assert readable("Zoë's favourite clips") == "Zoë's favourite clips"
    assert readable("a/b\\c:d*e?f\"g<h>i|j\x00k") == "a b c d e f g h i j k"
    assert readable("..hidden. ") == "hidden" and readable("CON") == "_CON"
    folders = cluster_folders({0: "Beach", 1: "beach", 2: "auto name", 3: "unsorted"}, {0, 1, 3})
    assert folders[0] == "Beach" and folders[2] == "2-auto-name"
    assert len({name.casefold() for name in folders.values()} | {"unsorted"}) == 5


def test_a_version_2_index_gets_the_curation_table(indexed_copy):
    store = Store(str(indexed_copy))
    if schema.CURATION in store.db.list_tables().tables:
        store.db.drop_table(schema.CURATION)
    store.set_meta(schema_version=2)
    migrated = Store(str(indexed_copy))
    assert migrated.migrated[0] == 2 and migrated.meta.schema_version == schema.SCHEMA_VERSION
    assert schema.CURATION in migrated.db.list_tables().tables
    assert migrated.db.open_table(schema.CURATION).count_rows() == 0


def test_web_writes_need_the_pages_token_json_and_the_same_origin(clustered):
    from starlette.testclient import TestClient

    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    client = TestClient(create_app(Library(str(clustered))), base_url="http://127.0.0.1:8765")  # the app's own Host
    page = client.get("/clusters").text
    token = page.split('name="vindex-csrf" content="')[1].split('"')[0]
    assert len(token) >= 32 and '<script src="/static/curation.js">' in page
    good = {"X-Vindex-CSRF": token, "Content-Type": "application/json"}
    body = json.dumps({"cluster": 0, "name": "Beach trips"})
    refused = [
        client.post("/api/curate/rename", content=body, headers={"Content-Type": "application/json"}),
        client.post("/api/curate/rename", content=body, headers=dict(good, **{"X-Vindex-CSRF": "guess"})),
        client.post("/api/curate/rename", content=body, headers=dict(good, **{"Content-Type": "text/plain"})),
        client.post("/api/curate/rename", content=body, headers=dict(good, Origin="http://evil.example")),
    ]
    assert [response.status_code for response in refused] == [403] * 4
    assert client.get("/api/curate/rename").status_code == 405  # writes are POST only
    assert Index(str(clustered)).curation_history().rows == []
    done = client.post("/api/curate/rename", content=body, headers=dict(good, Origin="http://127.0.0.1:8765"))
    assert done.status_code == 200 and done.json()["name"] == "Beach trips"
    bad = client.post("/api/curate/move", content=json.dumps({"videos": ["nope"], "to": 0}), headers=good)
    assert bad.status_code == 400 and "not an indexed video" in bad.json()["error"]
    preview = client.post("/api/curate/retune-preview", content=json.dumps({"min_size": 3}), headers=good).json()
    assert preview["videos"] == 24 and preview["num_clusters"] >= 1
    undone = client.post("/api/curate/undo", content="{}", headers=good)
    names = {cluster.id: cluster.name for cluster in Index(str(clustered)).clusters()}
    assert undone.status_code == 200 and names[0] != "Beach trips"


def test_curation_takes_the_writer_lock_and_can_wait_for_it(clustered, run):
    import threading

    from vindex.locking import WriterLock

    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another writer: the lock is per thread within a process
        lock = WriterLock(clustered).acquire()
        held.set()
        release.wait(120)
        lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    try:
        for args in (["rename", "0", "x"], ["merge", "0", "1"], ["move", "nothing", "--to", "0"], ["split", "0"],
                     ["undo"]):
            refused = run("cluster", *args, expect=1)
            assert "another vindex is writing" in refused.output, args
        done = threading.Event()
        waiting = threading.Thread(target=lambda: (run("cluster", "rename", "0", "Later", "--wait"), done.set()))
        waiting.start()
        assert not done.wait(2), "rename --wait did not wait"
    finally:
        release.set()
        holder.join(30)
    waiting.join(120)
    assert done.is_set() and overview(run)[0]["name"] == "Later"


def test_replayed_decisions_follow_merges_and_leave_out_the_undone():
    import numpy as np

    from vindex.clustering.decisions import apply_to_fit, replay

    def row(seq, action, cluster, **args):
        return dict(seq=seq, action=action, cluster=cluster, args=args, undo={})

    rows = [
        row(1, "rename", 5, name="Dogs"),
        row(2, "move", 5, videos=["a"], to=5),
        row(3, "rename", 2, name="Cats"),
        row(4, "merge", 2, others=[5], groups=[["c", "d"], ["e", "f"]]),
        row(5, "move", -1, videos=["b"], to=-1),
        row(6, "undo", -1, undoes=5),
    ]
    decisions = replay(rows)
    assert decisions.names == {2: "Cats"}  # the merged-away cluster's name goes with it
    assert decisions.pins == {"a": 2}  # a pin to a merged-away cluster follows the merge; #5 was undone
    assert decisions.count == 4 and {2, 5} <= decisions.ids_used
    # A re-fit that finds the two merged clusters apart again (ids 2 and 7) puts them back together.
    run_ids = ["a", "b", "c", "d", "e", "f"]
    previous = np.array([2, -1, 2, 2, 2, 2])
    labels, probabilities, notes = apply_to_fit(decisions, np.array([0, 0, 2, 2, 7, 7]), np.full(6, 0.5), run_ids,
                                                previous)
    assert labels.tolist() == [2, 0, 2, 2, 2, 2] and probabilities[0] == 1.0 and notes == []
