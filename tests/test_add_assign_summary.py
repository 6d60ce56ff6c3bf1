import json
import shutil

from vindex.demo import make_corpus
from tests.test_cluster_assign import clustered, rows  # noqa: F401  (fixture)


def test_add_says_how_many_new_videos_went_to_a_cluster_and_how_many_to_the_noise(
        clustered, tmp_path, isolated_index, run):  # noqa: F811
    made = make_corpus(tmp_path / "unseen", channels=6, videos_per_channel=2, seed=9, size=(96, 72),
                       seconds=(1.0, 2.0), fps=10)
    (clustered / "05_plasma").mkdir()
    for path in made:
        if path.parent.name == "05_plasma":
            shutil.copy(path, clustered / "05_plasma" / path.name)
    shutil.copy(next(clustered.glob("00_*/*.mp4")), clustered / "00_stripes_copy.mp4")
    text = run("add", clustered).stdout
    placed = [row for row in rows(isolated_index) if row["cluster_status"] != "clustered"]
    noise = sum(row["cluster"] < 0 for row in placed)
    assert noise >= 1 and len(placed) > noise
    assert (f"placed among the latest clusters: {len(placed)} new videos, {len(placed) - noise} in a cluster "
            f"and {noise} in the noise") in text
    summary = json.loads(run("add", clustered, "--json").stdout)
    assert summary["assigned"] == 0 and summary["assigned_noise"] == 0
