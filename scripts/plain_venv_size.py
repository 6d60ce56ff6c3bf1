"""The size of the plain install: a fresh venv with `pip install REPO` (no extras), its total size
on disk, its largest packages, whether torch can be imported there (it must not), and what each
group of requirements takes (every installed distribution's files, as its RECORD lists them,
compiled bytecode included; a dependency counts in the first group that needs it).

    python scripts/plain_venv_size.py [--repo .] [--venv /tmp/plain-venv] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The groups of the floor analysis, in the order they claim their dependencies: what vindex needs
# for each of its jobs, then the rest of its own requirements, then what any venv holds.
GROUPS = [
    ("numpy (every group needs it)", ["numpy"]),
    ("LanceDB and Arrow (the store)", ["lancedb", "pyarrow"]),
    ("OpenVINO (the CLIP runtime)", ["openvino"]),
    ("scipy and scikit-learn (HDBSCAN, UMAP)", ["scipy", "scikit-learn"]),
    ("umap-learn with numba and llvmlite", ["umap-learn"]),
    ("hdbscan", ["hdbscan"]),
    ("PyAV (decoding)", ["av"]),
    ("matplotlib and Pillow (the map, thumbnails)", ["matplotlib", "pillow"]),
    ("the rest of vindex's requirements, vindex itself", ["vindex"]),
    ("pip and setuptools (any venv)", ["pip", "setuptools"]),
]

# Run inside the venv: name → [bytes of the files its RECORD lists, names it requires].
DISTRIBUTIONS = r"""
import importlib.metadata as metadata, json, re
found = {}
for dist in metadata.distributions():
    size = 0
    for file in dist.files or []:
        path = dist.locate_file(file)
        try:
            if path.is_file() and not path.is_symlink():
                size += path.stat().st_size
        except OSError:
            pass
    needs = [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in dist.requires or [] if "extra ==" not in r]
    found[dist.metadata["Name"]] = [size, needs]
print(json.dumps(found))
"""


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def group_sizes(python: Path) -> list[tuple[str, int, list[str]]]:
    """(group, bytes, distributions) for GROUPS, each taking the closure of its roots not taken before,
    and one last group for any distribution left over."""
    found = json.loads(subprocess.run([str(python), "-c", DISTRIBUTIONS], capture_output=True, text=True,
                                      check=True).stdout)
    dists = {canonical(name): (size, [canonical(n) for n in needs]) for name, (size, needs) in found.items()}
    taken: set[str] = set()
    rows = []
    for label, roots in [*GROUPS, ("other", sorted(dists))]:
        members, todo = [], [canonical(r) for r in roots]
        while todo:
            name = todo.pop()
            if name in taken or name not in dists:
                continue
            taken.add(name)
            members.append(name)
            todo.extend(dists[name][1])
        rows.append((label, sum(dists[m][0] for m in members), sorted(members)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--venv", default=None, help="where to make the venv (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the venv afterwards")
    args = parser.parse_args()
    venv = Path(args.venv or tempfile.mkdtemp(prefix="vindex-plain-")) / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", args.repo], check=True)
    torch = subprocess.run([str(python), "-c", "import torch"], capture_output=True).returncode == 0
    site = next(venv.glob("lib/python*/site-packages"))
    total = size_of(venv)
    print(f"plain venv: {total / 2**30:.2f} GiB ({total / 2**20:.0f} MiB) at {venv}")
    print(f"torch importable: {'yes (wrong)' if torch else 'no'}")
    biggest = sorted(((size_of(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)[:12]
    for size, name in biggest:
        print(f"  {size / 2**20:7.0f} MiB  {name}")
    print("by group of requirements (installed files, .pyc included):")
    listed = 0
    for label, size, members in group_sizes(python):
        listed += size
        print(f"  {size / 2**20:7.0f} MiB  {label}: {', '.join(members) or '-'}")
    print(f"  {(total - listed) / 2**20:7.0f} MiB  not in any distribution's RECORD (the venv's own files)")
    if not args.keep:
        shutil.rmtree(venv.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
