#!/usr/bin/env python
"""The share of frames that need no forward pass of their own: `vindex add` embeds each distinct
model input once per run (bit-identical frames at the model's size: black and title frames, static
screens, frames shared by copies). Prints frames, reused frames and the share for each folder.

    python scripts/bench_distinct.py FOLDER [FOLDER ...] [--model ViT-B-32] [--frames 5]

ViT-B-32 runs with random weights (saved once as a checkpoint): which frames are identical does not
depend on the weights, only on the input size (224 px).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_add import model_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vindex-bench-distinct"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    spec = model_spec(args.model, args.work)
    print(f"{'folder':<40} {'videos':>6} {'frames':>7} {'reused':>7} {'share':>6}")
    for folder in args.folders:
        db = Path(tempfile.mkdtemp(dir=args.work)) / "index.vindex"
        command = [sys.executable, "-m", "vindex", "add", str(folder), "--db", str(db), "--model", spec.name,
                   "--frames", str(args.frames), "--json", "-q"]
        command += ["--checkpoint", spec.checkpoint] if spec.checkpoint else []
        done = subprocess.run(command, capture_output=True, text=True)
        shutil.rmtree(db.parent, ignore_errors=True)
        if done.returncode:
            sys.exit(f"vindex add {folder} failed: {done.stderr.strip()[-500:]}")
        summary = json.loads(done.stdout)
        frames, reused = summary["frames"], summary["frames_reused"]
        print(f"{str(folder)[-40:]:<40} {summary['embedded']:>6} {frames:>7} {reused:>7} {reused / max(frames, 1):6.1%}")


if __name__ == "__main__":
    main()
