"""What a newcomer meets first: the install, `--help`, the wording of counts and verbs, the demo."""

import configparser
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_setup_cfg_declares_every_data_file_as_package_data():
    """A file under vindex/ that is not Python must be package data of the package whose folder
    holds it, and that folder must be a package setuptools finds (otherwise `pip install` warns
    "Package would be ignored" and a wheel leaves the file out)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["options"]["packages"].strip() == "find_namespace:"
    include = config["options.packages.find"]["include"].split()
    package_data = {package: [pattern.strip() for pattern in patterns.split(",")]
                    for package, patterns in config["options.package_data"].items()}
    data_files = [path for path in (ROOT / "vindex").rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts]
    assert len(data_files) >= 10
    for path in data_files:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        assert any(fnmatch.fnmatch(package, pattern) for pattern in include), package
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in package_data.get(package, [])), \
            f"{path.relative_to(ROOT)} is not package data of {package} in setup.cfg"


def test_help_lists_json_wherever_a_command_takes_it(run):
    from vindex.cli import cli

    assert "--json" in run("--help").stdout
    takes_json = []
    for name, command in cli.commands.items():
        option = next((param for param in command.params if "--json" in getattr(param, "opts", [])), None)
        if option is None:
            continue
        takes_json.append(name)
        shown = run(name, "--help").stdout
        line = next(line for line in shown.splitlines() if line.strip().startswith("--json"))
        assert "JSON" in line, (name, line)
    assert {"add", "info", "query", "similar", "dupes", "cluster", "report", "show", "organize", "check"} <= set(takes_json)
