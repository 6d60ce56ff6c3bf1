"""`add --reembed` drops every row and embeds again what lies under the folder given: it is refused
while indexed videos lie elsewhere, for they would leave the index (those that `organize` moved
outside the root for good, as no `add` reaches them)."""

import json

from tests.conftest import TINY


def videos(run) -> int:
    return json.loads(run("info", "--json").stdout)["videos"]


def test_reembed_is_refused_while_videos_are_organized_outside_the_root(indexed, run, tmp_path):
    run("cluster", "--min-size", "3", "--neighbors", "8", "--no-report", "-q")
    run("organize", "--dest", tmp_path / "sorted", "--apply", "-q")
    refused = run("add", indexed, "--reembed", *TINY, "-q", expect=1)
    assert refused.output.startswith("Error: ") and len(refused.output.strip().splitlines()) == 1
    assert "organized outside the root" in refused.output and "vindex organize --undo" in refused.output
    assert videos(run) == 24
    run("organize", "--undo", "-q")
    assert json.loads(run("add", indexed, "--reembed", *TINY, "-q", "--json").stdout)["embedded"] == 24


def test_reembed_of_a_folder_inside_the_root_is_refused_and_names_the_root(indexed, run):
    refused = run("add", indexed / "00_stripes", "--reembed", *TINY, "-q", expect=1)
    assert f"pass the index's root, {indexed}" in refused.output and videos(run) == 24
