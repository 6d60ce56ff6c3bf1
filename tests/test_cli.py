import json
import subprocess
import sys

import click

from vindex.cli import cli


def all_commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


def test_every_command_has_help_text(run):
    commands = dict(all_commands(cli))
    assert {"add", "info"} <= commands.keys()
    for name, command in commands.items():
        assert command.help and len(command.help.strip()) > 20, f"{name} has no help text"
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, f"{name} {parameter.opts} has no help text"
        assert "Usage:" in run(*name.split(), "--help").stdout


def test_every_command_with_a_result_offers_json(run):
    """Scripts can rely on --json wherever a command prints a result, and --help says so."""
    without = {"serve"}  # a long-running server, not a result
    for name, command in all_commands(cli):
        if name in without or isinstance(command, click.Group):
            continue
        assert any("--json" in parameter.opts for parameter in command.params), f"{name} has no --json"
        assert "--json" in run(*name.split(), "--help").stdout


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from click.testing import CliRunner; from vindex.cli import cli; "
        "CliRunner().invoke(cli, ['--help']); "
        "print(','.join(m for m in ('torch', 'open_clip', 'openvino', 'lancedb', 'umap', 'hdbscan', 'matplotlib') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "vindex", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "vindex" in result.stdout


def test_add_json_summary_and_info(indexed, run):
    summary = json.loads(run("add", indexed, "--json").stdout)
    assert summary["unchanged"] == 24 and summary["failed"] == [] and summary["seconds"] >= 0
    facts = json.loads(run("info", "--json").stdout)
    assert facts["videos"] == 24 and facts["model"] == "vindex-tiny" and facts["dim"] == 512
    assert facts["channels"] == {"00_stripes": 6, "01_checker": 6, "02_rings": 6, "03_gradient": 6}
    assert facts["size_bytes"] > 0
    human = run("info").stdout
    assert "videos: 24" in human and "00_stripes" in human


def test_a_usage_mistake_is_one_error_line_that_names_the_help_to_read(run):
    for args, fragment, help_of in (
        (("add", "--nope"), "No such option '--nope'", " add --help"),
        (("query",), "Missing argument 'TEXT'", " query --help"),
        (("nope",), "No such command 'nope'", " --help"),
        (("cluster", "split", "--nope"), "No such option '--nope'", " cluster split --help"),
    ):
        lines = run(*args, expect=2).stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], lines
        assert lines[0].endswith(f"{help_of}`)")  # the program's name, then the command's
