"""The size of the plain install: a fresh venv with `pip install REPO` (no extras), its total size
on disk, its largest packages, and whether torch can be imported there (it must not).

    python scripts/plain_venv_size.py [--repo .] [--venv /tmp/plain-venv] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


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
    print(f"plain venv: {size_of(venv) / 2**30:.2f} GiB ({size_of(venv) / 2**20:.0f} MiB) at {venv}")
    print(f"torch importable: {'yes (wrong)' if torch else 'no'}")
    biggest = sorted(((size_of(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)[:12]
    for size, name in biggest:
        print(f"  {size / 2**20:7.0f} MiB  {name}")
    if not args.keep:
        shutil.rmtree(venv.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
