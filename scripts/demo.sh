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
if [ "$MODEL" = vindex-tiny ]; then
  cat <<'NOTE'
========================================================================================
 This demo runs the built-in model vindex-tiny: RANDOM weights, so it runs offline. Its
 vectors tell looks apart (similar, dupes and the clusters themselves work), but it knows
 no words: the text matches of `vindex query` and the cluster names below mean nothing.
 For real CLIP weights:  VINDEX_DEMO_MODEL=ViT-B-32 make demo   (downloads them once)
 or offline, from a weights file:  cd demo && vindex add channels --reembed --model ViT-B-32 --checkpoint FILE
========================================================================================
NOTE
fi
REEMBED=""
if [ -d "$VINDEX_DB" ]; then
  BUILT_WITH="$(vindex info --json | python -c 'import json, sys; print(json.load(sys.stdin).get("model") or "")')"
  if [ -n "$BUILT_WITH" ] && [ "$BUILT_WITH" != "$MODEL" ]; then
    echo "== the demo index was built with $BUILT_WITH: rebuilding it with $MODEL"
    REEMBED="--reembed"
  fi
fi
echo "== vindex add channels --model $MODEL${REEMBED:+ $REEMBED}"
vindex add channels --model "$MODEL" $REEMBED
echo "== vindex add channels (again: nothing to do)"
vindex add channels
echo "== vindex info"
vindex info
echo "== vindex similar channels/00_stripes/stripes_000.mp4 --limit 5"
vindex similar channels/00_stripes/stripes_000.mp4 --limit 5
echo "== vindex query \"neon abstract\" --limit 5"
vindex query "neon abstract" --limit 5
echo "== vindex cluster --min-size 5 --out report"
vindex cluster --min-size 5 --out report
echo "== vindex report --out report"
vindex report --out report
echo "== vindex show 0 --limit 8"
vindex show 0 --limit 8
echo "== vindex organize --dest by_cluster (a preview: nothing moves without --apply)"
vindex organize --dest by_cluster
echo
echo "Open demo/report/clusters.html and demo/report/video_clusters_visualization.png to look at the clusters."
echo
echo "Next, browse it in the web app (search, play the matched moment, clusters, duplicates; docs/serve.md):"
echo "  $(command -v vindex) serve --db $VINDEX_DB"
