from pathlib import Path


def wreck_every_frames_file(db: Path) -> None:
    """Every version of the frames table that holds rows reads a damaged file; the empty first ones are gone."""
    table = db / "frames.lance"
    for data in (table / "data").iterdir():
        data.write_bytes(b"garbage")
    manifests = sorted((table / "_versions").glob("*.manifest"), key=lambda path: path.stat().st_mtime)
    for manifest in manifests[:-1]:
        manifest.unlink()


def test_repair_that_cannot_fix_a_table_says_not_repaired_and_how_to_rebuild(indexed_copy, run):
    wreck_every_frames_file(indexed_copy)
    output = run("check", "--repair", expect=1).output
    assert "repaired: frames" not in output.replace("not repaired: frames", "")
    assert "not repaired: frames: no version of it reads: rebuild the index with `vindex add" in output
    assert "--reembed --model vindex-tiny" in output
    assert "run `vindex check --repair`" not in output


def test_repair_json_lists_what_it_could_not_fix_apart_from_what_it_fixed(indexed_copy, run):
    import json

    wreck_every_frames_file(indexed_copy)
    result = json.loads(run("check", "--repair", "--json", expect=1).output)
    assert result["repaired"] == []
    assert [line.split(":")[0] for line in result["not_repaired"]] == ["frames"]
