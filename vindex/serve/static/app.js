// The player (a click on a tile plays its video from the matched moment), the drop zone
// (a dropped file is searched for, not added) and small helpers shared by the pages.
"use strict";

// Every request that changes or uploads something goes through send(): the server refuses any such
// request without the CSRF token that the page carries (docs/security.md).
const CSRF_HEADER = "X-Vindex-CSRF";

function csrfToken() {
  const meta = document.querySelector("meta[name=vindex-csrf]");
  return meta ? meta.content : "";
}

function send(url, options) {
  const headers = new Headers((options && options.headers) || {});
  headers.set(CSRF_HEADER, csrfToken());
  return fetch(url, Object.assign({}, options, { headers, credentials: "same-origin" }));
}

// The colour of a cluster id, as the PNG map draws it: golden-ratio hue steps; noise is grey.
function clusterColour(id) {
  if (id < 0) return "#b4b4b4";
  const hue = (id * 0.618033988749895 + 0.05) % 1.0;
  const saturation = [0.85, 0.6, 0.95][id % 3];
  const value = [0.85, 0.65, 0.95, 0.75][id % 4];
  const i = Math.floor(hue * 6), f = hue * 6 - i;
  const p = value * (1 - saturation), q = value * (1 - f * saturation), t = value * (1 - (1 - f) * saturation);
  const [r, g, b] = [[value, t, p], [q, value, p], [p, value, t], [p, q, value], [t, p, value], [value, p, q]][i % 6];
  return "#" + [r, g, b].map((c) => Math.round(c * 255).toString(16).padStart(2, "0")).join("");
}

function paintDots() {
  for (const dot of document.querySelectorAll(".dot[data-cluster]")) {
    dot.style.background = clusterColour(Number(dot.dataset.cluster));
  }
}

function formatMoment(seconds) {
  const minutes = Math.floor(seconds / 60);
  return minutes + ":" + (seconds - minutes * 60).toFixed(1).padStart(4, "0");
}

function setupPlayer() {
  const dialog = document.getElementById("player");
  if (!dialog) return;
  const video = dialog.querySelector("video");
  const title = dialog.querySelector(".player-title");
  const note = dialog.querySelector(".player-note");
  let moment = 0;

  function close() {
    video.pause();
    video.removeAttribute("src");
    video.load();
    if (dialog.open) dialog.close();
  }

  function play(id, seconds, path) {
    moment = seconds;
    note.textContent = "";
    delete video.dataset.startedAt;
    video.dataset.video = id;
    video.dataset.moment = String(seconds);
    title.textContent = path + (seconds > 0 ? " · from " + formatMoment(seconds) : "");
    // #t= starts the download at the moment; currentTime is set again once the metadata is in,
    // for browsers that ignore the fragment.
    video.src = "/media/video/" + encodeURIComponent(id) + (seconds > 0 ? "#t=" + seconds.toFixed(2) : "");
    if (!dialog.open) dialog.showModal();
    video.play().catch(() => {});
  }

  video.addEventListener("loadedmetadata", () => {
    if (Math.abs(video.currentTime - moment) > 0.25) video.currentTime = moment;
    else video.dataset.startedAt = String(video.currentTime);
  });
  video.addEventListener("seeked", () => {
    if (video.dataset.startedAt === undefined) video.dataset.startedAt = String(video.currentTime);
  });
  video.addEventListener("error", () => {
    note.textContent = "This video cannot be played here: its file is missing, or the browser does not "
      + "play its format (" + (title.textContent.split(" · ")[0] || "?") + ").";
  });
  // "More like this moment": the other videos' moments like the frame on screen now.
  dialog.querySelector(".more-moment").addEventListener("click", (event) => {
    event.preventDefault();
    window.location = "/similar/" + encodeURIComponent(video.dataset.video) + "?t=" + video.currentTime.toFixed(2);
  });
  dialog.querySelector(".close").addEventListener("click", close);
  dialog.addEventListener("close", close);
  dialog.addEventListener("click", (event) => { if (event.target === dialog) close(); });

  document.addEventListener("click", (event) => {
    const strip = event.target.closest(".tile .timeline");
    if (strip) {
      const box = strip.getBoundingClientRect();
      const seconds = Math.max(0, (event.clientX - box.left) / box.width) * Number(strip.dataset.duration);
      const tile = strip.closest(".tile");
      play(tile.dataset.video, seconds, tile.dataset.path || "");
      return;
    }
    const button = event.target.closest(".tile .play");
    if (!button) return;
    const tile = button.closest(".tile");
    play(tile.dataset.video, Number(tile.dataset.t || 0), tile.dataset.path || "");
  });
}

// The score of each stored frame along the video ([seconds, score] pairs), as a line from the
// video's worst frame (bottom) to its best (top): relative, as the segments are. Each frame holds
// its score for the time it stands for (halfway to its neighbours), so the line steps at those bounds.
// The page holds the empty line (an inline SVG); only its points are set here.
function drawCurve(strip, duration) {
  const line = strip.querySelector("svg.curve polyline");
  let points;
  try { points = JSON.parse(strip.dataset.curve || "[]"); } catch (error) { return; }
  if (!line || !points.length) return;
  const scores = points.map((point) => point[1]);
  const best = Math.max(...scores), worst = Math.min(...scores);
  const x = (seconds) => (1000 * Math.min(Math.max(seconds, 0), duration) / duration).toFixed(1);
  const y = (score) => (best > worst ? 95 - 85 * (score - worst) / (best - worst) : 10).toFixed(1);
  const corners = [];
  points.forEach(([seconds, score], i) => {
    const from = i === 0 ? 0 : (points[i - 1][0] + seconds) / 2;
    const to = i === points.length - 1 ? duration : (seconds + points[i + 1][0]) / 2;
    corners.push(x(from) + "," + y(score), x(to) + "," + y(score));
  });
  line.setAttribute("points", corners.join(" "));
  strip.classList.add("with-curve");
}

// Each hit's timeline: the score along the video, its matching segments placed under it (darker
// the better they match), the best frame as a tick.
function placeTimelines() {
  for (const strip of document.querySelectorAll(".timeline[data-duration]")) {
    const duration = Number(strip.dataset.duration) || 1;
    drawCurve(strip, duration);
    const segments = [...strip.querySelectorAll(".segment")];
    const scores = segments.map((segment) => Number(segment.dataset.score));
    const best = Math.max(...scores), worst = Math.min(...scores);
    segments.forEach((segment, i) => {
      const start = Number(segment.dataset.start), end = Number(segment.dataset.end);
      segment.style.left = (100 * start / duration) + "%";
      segment.style.width = Math.max(0.5, 100 * (end - start) / duration) + "%";
      segment.style.opacity = String(best > worst ? 0.35 + 0.65 * (scores[i] - worst) / (best - worst) : 1);
      segment.title = formatMoment(start) + "–" + formatMoment(end);
    });
    const marker = strip.querySelector(".best");
    if (marker && marker.dataset.start !== "None") marker.style.left = (100 * Number(marker.dataset.start) / duration) + "%";
  }
}

function setupDrop() {
  const zone = document.getElementById("drop");
  if (!zone) return;
  const note = document.querySelector(".drop-note");
  const picker = zone.querySelector("input[type=file]");

  async function search(file) {
    note.hidden = false;
    note.textContent = "Looking for videos like " + file.name + "…";
    const query = new URLSearchParams(new FormData(document.querySelector("form.query")));
    query.delete("q");
    query.set("name", file.name);
    try {
      const response = await send("/api/similar?" + query, { method: "POST", body: file });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || response.statusText);
      window.location = "/?upload=" + encodeURIComponent(answer.upload);
    } catch (error) {
      note.textContent = "Could not search with " + file.name + ": " + error.message;
    }
  }

  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) search(file);
  });
  picker.addEventListener("change", () => { if (picker.files[0]) search(picker.files[0]); });
}

function setupCopy() {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try { await navigator.clipboard.writeText(text); button.textContent = "copied"; }
      catch (error) { window.getSelection().selectAllChildren(document.getElementById(button.dataset.copy)); }
    });
  }
}

// The error page's Back link goes back in history when there is one (no inline script: the CSP).
function setupBack() {
  const link = document.querySelector("a.back");
  if (!link || window.history.length < 2) return;
  link.addEventListener("click", (event) => { event.preventDefault(); window.history.back(); });
}

paintDots();
setupBack();
placeTimelines();
setupPlayer();
setupDrop();
setupCopy();
