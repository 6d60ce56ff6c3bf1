// The clusters map: one dot per video at its stored 2-D position, coloured by cluster, noise in
// grey. Hovering shows the nearest video's thumbnail; a click opens its cluster.
"use strict";

(function () {
  const canvas = document.getElementById("map");
  const data = JSON.parse(document.getElementById("map-data").textContent);
  const tip = document.getElementById("map-tip");
  const points = data.points;
  if (!canvas || !points.length) return;
  const context = canvas.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  const margin = 16;
  let screen = [];  // [x, y] in CSS pixels per point

  function layout() {
    const width = canvas.clientWidth, height = Math.round(width * 0.45);
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.height = height + "px";
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of points) {  // a loop: spreading 100,000 values into Math.min overflows the stack
      x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
    }
    const scale = Math.min((width - 2 * margin) / (x1 - x0 || 1), (height - 2 * margin) / (y1 - y0 || 1));
    const dx = (width - scale * (x1 - x0)) / 2, dy = (height - scale * (y1 - y0)) / 2;
    screen = points.map((p) => [dx + (p.x - x0) * scale, height - (dy + (p.y - y0) * scale)]);
    draw(width, height);
  }

  function draw(width, height) {
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const radius = Math.max(1.5, Math.min(6, 300 / Math.sqrt(points.length)));
    // Noise first, so the clusters are drawn over it.
    for (const noiseFirst of [true, false]) {
      points.forEach((p, i) => {
        if ((p.cluster < 0) !== noiseFirst) return;
        context.globalAlpha = p.cluster < 0 ? 0.55 : 0.85;
        context.fillStyle = clusterColour(p.cluster);
        context.beginPath();
        context.arc(screen[i][0], screen[i][1], radius, 0, 2 * Math.PI);
        context.fill();
      });
    }
    context.globalAlpha = 1;
    label(width, height);
  }

  // Each cluster's id and name just above its dots (below them when there is no room above), over a
  // white halo so they read on any colour, and shifted inward so no label runs off the map's edge.
  function label(width, height) {
    const extents = new Map();  // cluster -> [sum of x, count, top, bottom]
    points.forEach((p, i) => {
      if (p.cluster < 0) return;
      const [x, y] = screen[i];
      const e = extents.get(p.cluster) || [0, 0, Infinity, -Infinity];
      extents.set(p.cluster, [e[0] + x, e[1] + 1, Math.min(e[2], y), Math.max(e[3], y)]);
    });
    context.font = "600 12px system-ui, sans-serif";
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.lineJoin = "round";
    const half = 7;  // half the text's height, in CSS pixels
    for (const [cluster, [sumX, count, top, bottom]] of extents) {
      const name = data.names[cluster] || "";
      const text = cluster + " · " + (name.length > 28 ? name.slice(0, 27) + "…" : name);
      const wide = context.measureText(text).width / 2 + 3;
      const x = Math.min(Math.max(sumX / count, wide), width - wide);
      let y = top - half - 6;
      if (y < half) y = Math.min(bottom + half + 6, height - half);
      context.lineWidth = 4;
      context.strokeStyle = "rgba(255,255,255,0.9)";
      context.strokeText(text, x, y);
      context.fillStyle = "#1d1d1f";
      context.fillText(text, x, y);
    }
  }

  function nearest(event) {
    const box = canvas.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    let best = -1, bestDistance = 100;  // within 10 CSS pixels
    for (let i = 0; i < screen.length; i++) {
      const d = (screen[i][0] - x) ** 2 + (screen[i][1] - y) ** 2;
      if (d < bestDistance) { best = i; bestDistance = d; }
    }
    return best;
  }

  let shown = -1;
  canvas.addEventListener("mousemove", (event) => {
    const i = nearest(event);
    if (i < 0) { tip.hidden = true; shown = -1; return; }
    const p = points[i];
    if (i !== shown) {
      tip.querySelector("img").src = "/media/thumb/" + encodeURIComponent(p.id) + "?w=180";
      const name = p.cluster < 0 ? "noise" : p.cluster + " · " + (data.names[p.cluster] || "");
      tip.querySelector("span").textContent = name + " — " + p.path;
      shown = i;
    }
    const left = Math.min(screen[i][0] + 12, canvas.clientWidth - 196);
    tip.style.left = left + "px";
    tip.style.top = Math.max(0, screen[i][1] - 150) + "px";
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; shown = -1; });
  canvas.addEventListener("click", (event) => {
    const i = nearest(event);
    if (i >= 0) window.location = "/clusters/" + (points[i].cluster < 0 ? "noise" : points[i].cluster);
  });
  window.addEventListener("resize", layout);
  layout();
})();
