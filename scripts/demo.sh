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
echo "== vindex similar channels/00_stripes/stripes_000.mp4 --limit 5"
vindex similar channels/00_stripes/stripes_000.mp4 --limit 5
echo "== vindex query \"neon abstract\" --limit 5   (vindex-tiny knows no words: try it with ViT-B-32)"
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
