"""`vindex info` says which frames each video gets: a count only where the count is fixed."""

import json

from tests.conftest import TINY


def test_info_json_reports_no_fixed_count_when_frames_follow_the_shots(indexed_copy, run):
    facts = json.loads(run("info", "--json").stdout)
    assert facts["frames_per_video"] is None
    assert facts["frame_policy_settings"]["kind"] == "per-shot"
    assert facts["frame_policy_settings"]["shot_seconds"] == 10
    assert "one per shot" in facts["frame_policy"]


def test_info_json_reports_the_forced_count_of_a_fixed_policy(corpus, run):
    run("add", corpus, *TINY, "--frames", "3", "-q")
    facts = json.loads(run("info", "--json").stdout)
    assert facts["frames_per_video"] == 3
    assert facts["frame_policy_settings"]["kind"] == "fixed"
    assert facts["frame_policy"] == "3 frames per video"
