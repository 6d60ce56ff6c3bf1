"""`vindex dupes --mode similar` on the search corpus: the planted near-duplicates, by CLIP."""

import json

from tests.search_corpus import DUPLICATE_THRESHOLD, PLANTED_GROUPS


def test_dupes_groups_exactly_the_planted_near_duplicates(library, run):
    _, db = library
    groups = json.loads(run("dupes", "--db", db, "--mode", "similar", "--threshold", DUPLICATE_THRESHOLD,
                            "--json").stdout)["groups"]
    assert {frozenset(video["path"] for video in group["videos"]) for group in groups} == PLANTED_GROUPS
    firsts = {group["videos"][0]["path"] for group in groups}
    # Longest, then largest first: the re-encode is bigger, the trim is shorter, the crop smaller.
    assert {"alpha/reencode_00.avi", "beta/plasma_05.mp4", "beta/checker_09.mp4"} <= firsts
    for group in groups:
        assert group["videos"][0]["score"] == 1.0 and all(v["score"] >= DUPLICATE_THRESHOLD for v in group["videos"])


def test_dupes_human_output_and_channel_filter(library, run):
    _, db = library
    output = run("dupes", "--db", db, "--mode", "similar", "--threshold", DUPLICATE_THRESHOLD, "--channel", "alpha").stdout
    assert output.count("group ") == 1 and "alpha/reencode_00.avi" in output and "beta/" not in output


def test_similar_mode_on_random_weights_says_its_groups_mean_little(library, run):
    """Similar mode's threshold is set for trained CLIP vectors: on the random-weight test model it
    groups look-alikes, and the report says so (stderr for people, `warnings` in JSON)."""
    _, db = library
    report = json.loads(run("dupes", "--mode", "similar", "--db", db, "--json").stdout)
    assert any("random weights" in warning for warning in report["warnings"])
