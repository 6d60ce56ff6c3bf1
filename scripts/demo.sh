#!/usr/bin/env bash
# The main job on a generated demo corpus. Uses the tiny built-in model so it runs anywhere,
# offline; set VINDEX_DEMO_MODEL=ViT-B-32 for real CLIP weights (downloaded on first use).
set -euo pipefail
MODEL="${VINDEX_DEMO_MODEL:-vindex-tiny}"
mkdir -p demo
cd demo
if [ ! -d channels ]; then
  python -m vindex.demo channels --channels 6 --videos 20
fi
export VINDEX_DB="$PWD/.vindex"
echo "== vindex add channels --model $MODEL"
vindex add channels --model "$MODEL"
echo "== vindex add channels (again: nothing to do)"
vindex add channels
echo "== vindex info"
vindex info
