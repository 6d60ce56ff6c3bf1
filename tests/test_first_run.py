"""What a newcomer meets first: the install, `--help`, the wording of counts and verbs, the demo."""

import configparser
import fnmatch
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import TINY

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


@pytest.fixture
def one_video(corpus_template, tmp_path, run):
    """An index of a single video, clustered (it is noise: one video makes no cluster)."""
    root = tmp_path / "channels"
    (root / "solo").mkdir(parents=True)
    shutil.copy2(next(corpus_template.glob("*/*.mp4")), root / "solo" / "only.mp4")
    added = run("add", root, *TINY, "-q")
    run("cluster", "--min-size", "2", "--no-report", "-q")
    return root, added


def test_a_single_video_is_counted_as_one_video_not_one_videos(one_video, run, isolated_index, tmp_path):
    from starlette.testclient import TestClient

    from vindex.serve.app import create_app
    from vindex.serve.library import Library

    _, added = one_video
    lines = [added.stdout, run("check").stdout, run("cluster", "--min-size", "2", "--no-report", "-q").stdout,
             run("organize", "--dest", tmp_path / "by").stdout]
    assert "(1 video, 5 frames embedded)" in lines[0]
    assert "index OK: 1 video, 5 frames" in lines[1]
    assert "1 noise video (100 %) among 1 video" in lines[2]
    assert "move 1 video into" in lines[3]
    client = TestClient(create_app(Library(str(isolated_index))), base_url="http://127.0.0.1:8765")
    pages = {page: client.get(page).text for page in ("/info", "/clusters", "/clusters/noise", "/organize?dest=by")}
    assert "1 channel<" in pages["/info"] and "0 clusters of 1 video" in pages["/clusters"]
    assert '<span class="size">1 video</span>' in pages["/clusters/noise"] and "</b> video into" in pages["/organize?dest=by"]
    for shown in [*lines, *pages.values()]:
        assert not re.search(r"\b1 (videos|frames|clusters|channels|files)\b", shown), shown


@pytest.mark.parametrize("flag, verb, done", [("--copy", "copy", "copied"), ("--link", "link", "linked")])
def test_organize_copy_and_link_say_what_they_do(one_video, run, tmp_path, flag, verb, done):
    dest = tmp_path / "by"
    preview = run("organize", "--dest", dest, flag).stdout
    assert preview.startswith(f"Preview: {verb} 1 video into ")
    applied = run("organize", "--dest", dest, flag, "--apply", "-q").stdout
    assert applied.startswith(f"{done} 1 video into ")
    for shown in (preview, applied):
        assert "move" not in shown.lower()
    assert (dest / "unsorted" / "only.mp4").is_file() and (one_video[0] / "solo" / "only.mp4").is_file()


@pytest.mark.slow
def test_demo_says_its_model_is_random_and_rebuilds_an_index_of_another_model(corpus_template, tmp_path, run):
    """scripts/demo.sh as `make demo` runs it (on a small corpus already in place), over a demo index
    recorded as built by another model: it says once what random weights mean, rebuilds the index
    with --reembed instead of failing, and runs to the end."""
    import os
    import subprocess
    import sys

    from vindex.store import Store

    demo = tmp_path / "demo"
    shutil.copytree(corpus_template, demo / "channels")
    db = demo / ".vindex"
    run("add", demo / "channels", "--db", db, *TINY, "-q")
    store = Store(str(db))
    store.set_meta(model="ViT-B-32", weights="openai")  # as if `VINDEX_DEMO_MODEL=ViT-B-32 make demo` ran before
    del store
    bin_folder = tmp_path / "bin"  # `vindex` and `python` of this checkout, as the Makefile's venv provides them
    bin_folder.mkdir()
    (bin_folder / "vindex").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vindex "$@"\n')
    (bin_folder / "vindex").chmod(0o755)
    (bin_folder / "python").symlink_to(sys.executable)
    env = dict(os.environ, PATH=f"{bin_folder}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    env.pop("VINDEX_DEMO_MODEL", None)
    done = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("RANDOM weights") == 1 and "VINDEX_DEMO_MODEL=ViT-B-32 make demo" in done.stdout
    assert "built with ViT-B-32: rebuilding it with vindex-tiny" in done.stdout
    assert "0 added, 24 re-embedded" in done.stdout or "24 added" in done.stdout
    info = json.loads(run("info", "--db", db, "--json").stdout)
    assert info["model"] == "vindex-tiny" and info["weights"].startswith("random-init") and info["videos"] == 24
    # The CLI says it too, on stderr, where a random-weight model answers in words.
    assert "text matches mean nothing" in done.stderr and "cluster names mean nothing" in done.stderr


def test_random_weights_are_named_where_they_answer_in_words(indexed, run, tmp_path):
    """With vindex-tiny, a text query and cluster names carry one `warning:` line on stderr (stdout,
    --json included, stays clean); a search by a video, which random weights can answer, carries none."""
    human = run("query", "neon abstract", "--limit", "2")
    assert human.stderr.count("warning: this index's model has random weights, so its text matches mean nothing") == 1
    assert "--model ViT-B-32" in human.stderr and "warning" not in human.stdout
    scripted = run("query", "neon abstract", "--limit", "2", "--json")
    assert "text matches mean nothing" in json.loads(scripted.stdout)["warnings"][0]
    clustered = run("cluster", "--min-size", "4", "--neighbors", "8", "--no-report", "-q", "--json")
    assert clustered.stderr.count("cluster names mean nothing") == 1 and json.loads(clustered.stdout)["clusters"]
    assert "random weights" not in run("similar", next(indexed.glob("*/*.mp4")), "--limit", "2").stderr
    run("report", "--out", tmp_path / "report", "--no-picture", "--thumbnails", "1", "-q")
    assert 'class="warning">this index&#x27;s model has random weights' in (tmp_path / "report" / "clusters.html").read_text()
