"""An organize journal that was edited, damaged or replaced: every line is checked field by
field, a bad one is set aside (saying file:line), undo finishes what it can and says what it
could not, and `check` sees (`--repair` unwedges) an organize left half-done.

docs/reliability.md names these tests beside the promise each one holds.
"""

import json
from pathlib import Path

from tests.test_organize import (  # noqa: F401  (fixtures: indexed_template, unclustered, library)
    assert_index_matches_disk, indexed_template, library, relative_layout, unclustered,
)


def journal_of(db: Path) -> Path:
    return db / "organize" / "0001.jsonl"


def edit_line(journal: Path, wanted: str, edit) -> int:
    """Apply `edit` to the first line holding `wanted`; returns its (1-based) number."""
    lines = journal.read_bytes().split(b"\n")
    number = next(i for i, line in enumerate(lines) if wanted.encode() in line)
    lines[number] = edit(lines[number])
    journal.write_bytes(b"\n".join(lines))
    return number + 1


def insert_after_plan(journal: Path, *new: bytes) -> list[int]:
    lines = journal.read_bytes().split(b"\n")
    end = next(i for i, line in enumerate(lines) if b"end_of_plan" in line)
    lines[end + 1 : end + 1] = list(new)
    journal.write_bytes(b"\n".join(lines))
    return [end + 2 + i for i in range(len(new))]


def rejected_lines(journal: Path) -> list[int]:
    rejected = journal.with_name(journal.name + ".rejected")
    return [json.loads(line)["line"] for line in rejected.read_text().splitlines()]


def test_a_planned_file_with_a_wrong_type_is_set_aside_and_undo_restores_the_rest(library, run, tmp_path,
                                                                                  isolated_index):
    before = relative_layout(library)
    run("organize", "--dest", tmp_path / "by_cluster", "--apply")
    journal = journal_of(isolated_index)
    number = edit_line(journal, '{"move"', lambda line: line.replace(b'"size": ', b'"size": "big", "was": '))
    undone = run("organize", "--undo")
    warnings = [line for line in undone.stderr.splitlines() if line.startswith("warning: ")]
    assert any(f"{journal}:{number}: not a journal line vindex wrote ('size' is \"big\")" in line
               and f"set aside in {journal}.rejected" in line for line in warnings), undone.stderr
    assert any(line.startswith("warning: not restored ") and f"0001.jsonl:{number} is damaged" in line
               for line in warnings)
    assert rejected_lines(journal) == [number]
    after = relative_layout(library)
    assert len(set(before.items()) - set(after.items())) == 1  # every file back but the one of the bad line
    assert_index_matches_disk(isolated_index)
    # Nothing is wedged: add and a new organize run.
    assert json.loads(run("add", library, "--json").stdout)["removed"] == 0
    assert run("check").stdout.startswith("index OK")


def test_events_of_the_wrong_type_or_depth_are_set_aside_and_undo_finishes(library, run, tmp_path, isolated_index):
    before = relative_layout(library)
    run("organize", "--dest", tmp_path / "by_cluster", "--apply")
    journal = journal_of(isolated_index)
    numbers = insert_after_plan(journal, b'{"e": 0, "state": "undo-started", "restore": 5}', b'{"folder": 7}',
                                b"[" * 200_000 + b"]" * 200_000, b"[" * 30_000 + b"]" * 30_000,
                                b'{"e": 99999, "state": "done"}',
                                b'{"run": "sideways"}')
    undone = run("organize", "--undo")
    assert "Traceback" not in undone.output and "Error" not in undone.output
    warned = [line for line in undone.stderr.splitlines() if "not a journal line vindex wrote" in line]
    assert [line.split(": not a journal line")[0] for line in warned] == [f"warning: {journal}:{n}" for n in numbers]
    assert "(nested too deep)" in warned[3] and "(400000 bytes long)" in warned[2]
    assert rejected_lines(journal) == numbers
    assert relative_layout(library) == before
    assert_index_matches_disk(isolated_index)


def test_a_journal_replaced_by_a_folder_is_one_line(library, run, tmp_path, isolated_index):
    run("organize", "--dest", tmp_path / "by_cluster", "--apply")
    journal = journal_of(isolated_index)
    journal.unlink()
    journal.mkdir()
    undo = run("organize", "--undo", expect=1)
    assert len(undo.stderr.strip().splitlines()) == 1 and "IsADirectoryError" not in undo.stderr
    assert "nothing to undo" in undo.stderr
    assert json.loads(run("add", library, "--json").stdout)["removed"] == 0


def test_check_sees_an_interrupted_undo_and_repair_unwedges_it_keeping_the_journal(library, run, tmp_path,
                                                                                   isolated_index):
    run("organize", "--dest", tmp_path / "by_cluster", "--apply")
    journal = journal_of(isolated_index)
    with open(journal, "ab") as handle:
        handle.write(b'{"run": "undoing"}\n')  # as an undo killed before its first step leaves it
    assert "an organize undo was interrupted" in run("add", library, expect=1).stderr
    found = json.loads(run("check", "--json", expect=1).stdout)
    assert found["problems"] == ["organize: an organize undo was interrupted: run `vindex organize --undo` to finish "
                                 "it; or `vindex check --repair` to set its journal aside"]
    plan = journal.read_bytes()
    repaired = json.loads(run("check", "--repair", "--json").stdout)
    assert repaired["ok"] and len(repaired["repaired"]) == 1 and "set aside as" in repaired["repaired"][0]
    aside = next(journal.parent.glob("0001.jsonl.damaged-*"))
    assert aside.read_bytes() == plan  # where every file came from is still recorded
    assert json.loads(run("add", library, "--json").stdout)["removed"] == 0
    assert run("check").stdout.startswith("index OK")
