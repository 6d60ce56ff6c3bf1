"""One way of writing a moment, for the CLI, the web app and export."""

from vindex.clock import moment


def test_a_moment_is_minutes_and_seconds_to_a_tenth():
    assert moment(3.24) == "0:03.2"
    assert moment(83.5) == "1:23.5"
    assert moment(3600) == "60:00.0"
    assert moment(None) == "-"


def test_the_cli_and_the_web_app_write_moments_the_same_way():
    from vindex import output
    from vindex.serve.pages import environment

    assert output.moment is moment
    assert environment().filters["moment"] is moment
