// Curation in the browser: rename a cluster inline, select videos and move them, merge and split
// clusters, undo the last step, retune --min-size with a live preview, and apply (then undo) an
// organisation with a progress bar. Every write is a JSON POST to /api/curate/… carrying the
// page's CSRF token through app.js's send(); the server runs the same library calls as the CLI.
"use strict";

async function curate(action, body) {
  const response = await send("/api/curate/" + action, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({ error: "the server sent no JSON" }));
  if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
  return data;
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([name, value]) => {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  });
  children.forEach((child) => node.append(child));
  return node;
}

function statusLine(after) {
  const line = element("p", { class: "curate-status", role: "status" });
  after.after(line);
  return {
    say(text) { line.textContent = text; line.classList.remove("error"); },
    fail(error) { line.textContent = "Error: " + error.message; line.classList.add("error"); },
  };
}

// Runs a write; on success says its message and, unless told otherwise, reloads to show the result.
async function step(status, action, body, reload = true) {
  try {
    const result = await curate(action, body);
    status.say(result.message || "done");
    if (reload) window.location.reload();
    return result;
  } catch (error) {
    status.fail(error);
    return null;
  }
}

function setupClusterPage() {
  const section = document.querySelector("section.cluster");
  if (!section) return;
  const cluster = Number(section.querySelector("h1 .dot").dataset.cluster);
  const bar = element("div", { class: "curate-bar" });
  section.querySelector(".facts").after(bar);
  const status = statusLine(bar);

  if (cluster >= 0) {
    const name = section.querySelector("h1 .name");
    const rename = element("button", { type: "button", class: "rename", text: "Rename" });
    rename.addEventListener("click", () => {
      const input = element("input", { type: "text", class: "rename-input", value: name.textContent,
                                       "aria-label": "cluster name" });
      name.replaceWith(input);
      input.focus();
      input.select();
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") step(status, "rename", { cluster, name: input.value });
        if (event.key === "Escape") window.location.reload();
      });
    });
    const others = element("input", { type: "text", class: "merge-ids", placeholder: "ids, e.g. 4, 7",
                                      "aria-label": "clusters to merge into this one" });
    const merge = element("button", { type: "button", class: "merge", text: "Merge into this" });
    merge.addEventListener("click", () => {
      const ids = others.value.split(/[\s,]+/).filter(Boolean).map(Number);
      step(status, "merge", { cluster, others: ids });
    });
    const split = element("button", { type: "button", class: "split", text: "Split" });
    split.addEventListener("click", () => step(status, "split", { cluster }));
    bar.append(rename, others, merge, split);
  }

  const tiles = Array.from(section.querySelectorAll("#members .tile"));
  tiles.forEach((tile) => {
    const box = element("input", { type: "checkbox", class: "pick", "data-video": tile.dataset.video,
                                   "aria-label": "select " + (tile.dataset.path || "") });
    tile.prepend(element("label", { class: "pick-label" }, box));
  });
  const target = element("select", { class: "move-to", "aria-label": "move the selected videos to" });
  const move = element("button", { type: "button", class: "move", text: "Move selected" });
  const undo = element("button", { type: "button", class: "undo", text: "Undo last step" });
  move.addEventListener("click", () => {
    const videos = tiles.map((tile) => tile.querySelector("input.pick")).filter((box) => box.checked)
      .map((box) => box.dataset.video);
    if (!videos.length) { status.say("Select videos first (the boxes on the tiles)."); return; }
    step(status, "move", { videos, to: Number(target.value) });
  });
  undo.addEventListener("click", () => step(status, "undo", {}));
  bar.append(element("span", { class: "sep", text: "videos:" }), target, move, undo);
  fetch("/api/clusters").then((response) => response.json()).then((clusters) => {
    clusters.filter((row) => row.id !== cluster).forEach((row) => {
      target.append(element("option", { value: String(row.id),
                                        text: row.id < 0 ? "noise" : row.id + " · " + row.name }));
    });
  });
}

function setupClustersPage() {
  const section = document.querySelector("section.clusters");
  if (!section) return;
  const panel = element("div", { class: "curate-bar retune" });
  section.querySelector("h1").after(panel);
  const status = statusLine(panel);
  const slider = element("input", { type: "range", min: "2", max: "100", value: "5", class: "min-size",
                                    "aria-label": "minimum cluster size" });
  const shown = element("output", { class: "min-size-value", text: "5" });
  const preview = element("span", { class: "preview quiet" });
  const save = element("button", { type: "button", class: "save-retune", text: "Save this min-size", disabled: "" });
  const undo = element("button", { type: "button", class: "undo", text: "Undo last step" });
  panel.append(element("label", { text: "min cluster size " }, slider), shown, preview, save, undo,
               element("span", { class: "quiet", text: "Shift-drag on the map to select videos." }));
  let timer = null;
  let asked = 0;
  slider.addEventListener("input", () => {
    shown.textContent = slider.value;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const ask = ++asked;
      try {
        const found = await curate("retune-preview", { min_size: Number(slider.value) });
        if (ask !== asked) return;  // a later position answered first
        const clusters = found.num_clusters === 1 ? "1 cluster" : `${found.num_clusters} clusters`;
        preview.textContent = `preview: ${clusters}, ${found.noise} noise (not saved)`;
        save.removeAttribute("disabled");
      } catch (error) {
        status.fail(error);
      }
    }, 200);
  });
  save.addEventListener("click", () => step(status, "retune", { min_size: Number(slider.value) }));
  undo.addEventListener("click", () => step(status, "undo", {}));
  setupMapSelection(status);
  curate("settings", {}).then((run) => {
    if (run.min_size) { slider.value = String(run.min_size); shown.textContent = String(run.min_size); }
  }).catch(() => {});
}

// Shift-drag a box on the map to select the videos inside it, then move them. The map's layout
// (map.js) is recomputed here the same way, so a dot's place on screen is known without touching it.
function setupMapSelection(status) {
  const canvas = document.getElementById("map");
  const source = document.getElementById("map-data");
  if (!canvas || !source) return;
  const data = JSON.parse(source.textContent);
  const points = data.points;
  const wrap = canvas.parentElement;
  const box = element("div", { class: "map-box", hidden: "" });
  wrap.append(box);
  const panel = element("div", { class: "curate-bar map-selection", hidden: "" });
  wrap.after(panel);
  const count = element("span", { class: "selected-count" });
  const target = element("select", { class: "map-move-to", "aria-label": "move the selected videos to" });
  Object.entries(data.names).forEach(([id, name]) => {
    target.append(element("option", { value: id, text: Number(id) < 0 ? "noise" : id + " · " + name }));
  });
  if (!Object.keys(data.names).includes("-1")) target.append(element("option", { value: "-1", text: "noise" }));
  const move = element("button", { type: "button", class: "map-move", text: "Move selected" });
  panel.append(count, target, move);
  let selected = [], start = null, dragged = false;

  function onScreen() {
    const width = canvas.clientWidth, height = canvas.clientHeight, margin = 16;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of points) {
      x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
    }
    const scale = Math.min((width - 2 * margin) / (x1 - x0 || 1), (height - 2 * margin) / (y1 - y0 || 1));
    const dx = (width - scale * (x1 - x0)) / 2, dy = (height - scale * (y1 - y0)) / 2;
    return points.map((p) => [dx + (p.x - x0) * scale, height - (dy + (p.y - y0) * scale)]);
  }
  const at = (event) => {
    const rect = canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  };
  canvas.addEventListener("mousedown", (event) => {
    if (!event.shiftKey) return;
    start = at(event);
    dragged = false;
    event.preventDefault();
  });
  window.addEventListener("mousemove", (event) => {
    if (!start) return;
    const [x, y] = at(event);
    dragged = true;
    Object.assign(box.style, { left: Math.min(x, start[0]) + "px", top: Math.min(y, start[1]) + "px",
                               width: Math.abs(x - start[0]) + "px", height: Math.abs(y - start[1]) + "px" });
    box.hidden = false;
  });
  window.addEventListener("mouseup", (event) => {
    if (!start) return;
    const [x, y] = at(event);
    const [left, right, top, bottom] = [Math.min(x, start[0]), Math.max(x, start[0]),
                                        Math.min(y, start[1]), Math.max(y, start[1])];
    start = null;
    box.hidden = true;
    if (!dragged) return;
    selected = onScreen().map((xy, i) => [xy, points[i].id])
      .filter(([[px, py]]) => px >= left && px <= right && py >= top && py <= bottom).map(([, id]) => id);
    count.textContent = `${selected.length} ${selected.length === 1 ? "video" : "videos"} selected on the map`;
    panel.hidden = false;
  });
  // A drag ends in a click, which would open a cluster (map.js): swallow it before it gets there.
  wrap.addEventListener("click", (event) => {
    if (dragged) { event.stopPropagation(); dragged = false; }
  }, true);
  move.addEventListener("click", () => {
    if (!selected.length) { status.say("Shift-drag a box on the map to select videos first."); return; }
    step(status, "move", { videos: selected, to: Number(target.value) });
  });
}

function setupOrganizePage() {
  const section = document.querySelector("section.organize");
  if (!section) return;
  const form = section.querySelector("form");
  const bar = element("div", { class: "curate-bar" });
  form.after(bar);
  const status = statusLine(bar);
  const apply = element("button", { type: "button", class: "apply", text: "Apply…" });
  const undo = element("button", { type: "button", class: "organize-undo", text: "Undo the last organisation" });
  const progress = element("progress", { max: "1", value: "0", hidden: "" });
  bar.append(apply, undo, progress);
  const options = () => {
    const data = new FormData(form);
    return { dest: data.get("dest") || "", mode: data.get("mode") || "move", noise: data.get("noise") || "move",
             keep_channel: data.get("keep_channel") === "1" };
  };

  async function follow(started) {
    progress.hidden = false;
    let state = started;
    while (state.state === "running") {
      progress.max = Math.max(1, state.total);
      progress.value = state.done;
      status.say(`${state.action}: ${state.done} of ${state.total}${state.label ? " (" + state.label + ")" : ""}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      state = await curate("progress", {});
    }
    progress.value = progress.max;
    if (state.state === "failed") { status.fail(new Error(state.error)); return; }
    const result = state.result || {};
    const count = state.action === "undo" ? `${result.restored} files put back` : `${result.moved} files done`;
    const failed = (result.failed || []).length;
    // The preview below showed the folders before this step: it no longer says what Apply would do.
    section.querySelectorAll("p.summary, div.command, table.list, h2, ul.paths, details")
      .forEach((shown) => { shown.hidden = true; });
    status.say(`${state.action} finished: ${count}${failed ? ", " + failed + " failed" : ""}. `
      + "Press Preview to see the plan from here.");
    section.dataset.done = state.action;
  }

  apply.addEventListener("click", async () => {
    const chosen = options();
    const query = new URLSearchParams({ dest: chosen.dest, mode: chosen.mode, noise: chosen.noise });
    if (chosen.keep_channel) query.set("keep_channel", "1");
    try {
      const response = await fetch("/api/organize?" + query);
      const plan = await response.json();
      if (!response.ok) throw new Error(plan.error);
      const question = `${chosen.mode[0].toUpperCase() + chosen.mode.slice(1)} ${plan.moves.length} videos into `
        + `${plan.folders.length} folders under ${plan.dest}? (${plan.in_place} already there, `
        + `${plan.skipped.length} skipped.) You can undo it afterwards.`;
      if (!window.confirm(question)) return;
      await follow(await curate("organize-apply", chosen));
    } catch (error) {
      status.fail(error);
    }
  });
  undo.addEventListener("click", async () => {
    if (!window.confirm("Put every file of the last organisation back where it was?")) return;
    try {
      await follow(await curate("organize-undo", {}));
    } catch (error) {
      status.fail(error);
    }
  });
}

setupClusterPage();
setupClustersPage();
setupOrganizePage();
