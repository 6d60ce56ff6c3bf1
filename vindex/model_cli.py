"""`vindex model export`: a model written out as a folder that runs without torch (`--model DIR`)."""

from __future__ import annotations

from pathlib import Path

import json

import click

from vindex.options import json_option


@click.group()
def model() -> None:
    """Models as portable folders: export one here, use it anywhere with --model DIR."""


@model.command("export")
@click.argument("name")
@click.option("--pretrained", default=None, help="open_clip pretrained tag, e.g. laion2b_s34b_b79k.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None, help="Local weights file instead.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write into.")
@click.option("--layout", type=click.Choice(["openvino", "immich"]), default="openvino", show_default=True,
              help="openvino: OpenVINO IR (uint8 frames in); immich: visual/ and textual/ ONNX files, as immich ships.")
@click.option("--fp16-text-weights", is_flag=True,
              help="Store the text tower's IR weights in fp16: half its size, text vectors within cosine 0.9999 "
                   "(the image tower, whose vectors the index keeps, stays fp32).")
@json_option
def export(name, pretrained, checkpoint, out, layout, fp16_text_weights, as_json):
    """Write NAME's image and text towers, its tokenizer and its preprocessing into --out.

    Needs torch and open_clip (pip install 'vindex[torch]'), once; the folder then runs on a
    plain install: vindex add FOLDER --model DIR.
    """
    from vindex.embedding import ModelSpec
    from vindex.embedding.export import export_model, require_torch

    if pretrained and checkpoint:
        raise click.UsageError("choose one of --pretrained and --checkpoint")
    require_torch("vindex model export")
    if out.exists() and any(out.iterdir()):
        raise click.UsageError(f"{out} is not empty: export into a new folder")
    facts = export_model(ModelSpec(name, pretrained, checkpoint), out, layout, fp16_text_weights)
    if as_json:
        click.echo(json.dumps({**facts, "folder": str(out)}, indent=2))
    else:
        click.echo(f"exported {facts['model']} ({facts['weights']}, {facts['dim']}-d) to {out}: use --model {out}")
