from tests.conftest import TINY


def test_add_then_info_counts_every_video(indexed, run):
    result = run("info", "--json")
    assert '"videos": 24' in result.output
    assert '"frames": 120' in result.output
