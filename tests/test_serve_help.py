from vindex.cli import cli
from click.testing import CliRunner


def test_serve_help_says_the_pages_can_curate_and_organise():
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert "nothing is changed from the app" not in text
    assert "rename, merge, move, split, undo" in text
    assert "apply or undo an organise" in text
