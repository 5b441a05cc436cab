// The page: search (text or picture) and watch, match a clip, and the library with its index jobs.
// Plain DOM, no framework: every view is a <section> of index.html shown by the URL's hash.

import { ApiError, apiKey, call, upload } from "./api.js";

const VIEWS = ["search", "match", "library"];
const VIDEO_NAME = /\.(mp4|m4v|mov|mkv|webm|avi|ts|mts|m2ts|mpe?g|flv|wmv|3gp|ogv)$/i;
const IMAGE_NAME = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;
const JOB_POLL_MS = 1500;

const $ = (selector, root = document) => root.querySelector(selector);

// ---------------------------------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

function button(label, onClick, { name, kind } = {}) {
  const node = el("button", { type: "button", class: kind, "aria-label": name }, label);
  node.addEventListener("click", onClick);
  return node;
}

function fmtTime(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const rounded = Math.round(seconds * 10) / 10;
  const hours = Math.floor(rounded / 3600);
  const minutes = Math.floor((rounded % 3600) / 60);
  const secs = Math.round((rounded % 60) * 10) / 10;
  const ss = (secs < 10 ? "0" : "") + secs.toFixed(Number.isInteger(secs) ? 0 : 1);
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${ss}` : `${minutes}:${ss}`;
}

function fmtBytes(bytes) {
  if (bytes < 2 ** 20) return `${Math.max(1, Math.round(bytes / 2 ** 10))} KB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

const basename = (path) => path.split("/").filter(Boolean).pop() || path;
const dirname = (path) => path.slice(0, path.lastIndexOf("/")) || "/";
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const streamUrl = (videoId) => `/videos/${encodeURIComponent(videoId)}/stream`;

// Why a chosen file cannot be sent, before uploading it; the service checks the content itself.
// Shows why a file cannot be sent (wrong type, empty, too large) and says whether it was refused.
function refuseUpload(view, file, kind) {
  const problem = uploadProblem(file, kind);
  if (!problem) return false;
  setStatus(view, "");
  showError(view, new ApiError(422, problem));
  return true;
}

function uploadProblem(file, kind) {
  if (file.size === 0) return `${file.name} is empty (0 bytes). Choose another file.`;
  const video = kind === "video";
  const looksRight = file.type.startsWith(`${kind}/`) || (video ? VIDEO_NAME : IMAGE_NAME).test(file.name);
  if (looksRight || !file.type) return null;
  return video
    ? `${file.name} is not a video (${file.type}). Choose a video clip, such as MP4, WebM or MOV.`
    : `${file.name} is not an image (${file.type}). Choose a picture, such as PNG, JPEG or WebP.`;
}

// ------------------------------------------------------------------- status, errors, busy states

function setStatus(view, text, busy = false) {
  const node = $(`#${view}-status`);
  node.textContent = text || "";
  node.classList.toggle("busy", busy);
}

function showError(view, error) {
  const text = error instanceof ApiError ? error.message : `Something went wrong: ${error.message || error}`;
  $(`#${view}-error`).textContent = text;
}

const inflight = {};

// One piece of work per view at a time: a new search or upload replaces the one still running.
async function run(view, busyText, work) {
  inflight[view]?.abort();
  const controller = new AbortController();
  inflight[view] = controller;
  const section = $(`#view-${view}`);
  $(`#${view}-error`).textContent = "";
  setStatus(view, busyText, true);
  section.setAttribute("aria-busy", "true");
  try {
    const doneText = await work(controller.signal);
    if (inflight[view] === controller) setStatus(view, doneText);
  } catch (error) {
    if (inflight[view] !== controller || error.name === "AbortError") return;
    setStatus(view, "");
    showError(view, error);
  } finally {
    if (inflight[view] === controller) {
      section.removeAttribute("aria-busy");
      inflight[view] = null;
    }
  }
}

// ------------------------------------------------------------------------------------------ views

function showView(name, { focus = false } = {}) {
  if (!$("#watch").hidden && $(`#view-${name}`).hidden) closePlayer(); // it belonged to the view left
  for (const view of VIEWS) $(`#view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "library") loadLibrary();
  if (name === "library" || name === "match") pollJobs(); // the folders that may be indexed or matched
  if (focus) $(`#${name}-title`).focus();
}

window.addEventListener("hashchange", () => {
  const name = location.hash.slice(1);
  if (VIEWS.includes(name)) showView(name, { focus: true }); // other hashes (#main) are in-page links
});

// ----------------------------------------------------------------------------------------- search

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(event.currentTarget);
  const q = String(data.get("q") || "").trim();
  if (!q) {
    showError("search", new ApiError(422, "Type what to look for, for example “a dog on a beach”."));
    $("#q").focus();
    return;
  }
  const params = new URLSearchParams({ q, k: data.get("k") });
  for (const name of ["min_duration_s", "max_duration_s", "min_height", "codec", "path_prefix", "source"]) {
    const value = String(data.get(name) || "").trim();
    if (value) params.set(name, value);
  }
  const min = Number(params.get("min_duration_s")), max = Number(params.get("max_duration_s"));
  if (params.has("min_duration_s") && params.has("max_duration_s") && min > max) {
    showError("search", new ApiError(422, "“Longer than” is more than “Shorter than”: no video can match."));
    return;
  }
  const group = String(data.get("group") || "");
  if (group) params.set("group", group);
  params.set("copies", data.get("copies") === "hide" ? "hide" : "show");
  run("search", `Searching for “${q}”…`, async (signal) => {
    const { results, notes } = await call(`/search?${params}`, { signal });
    renderResults(results, group === "video");
    // The banner above says already why the picture is off: the status says only that it was.
    const said = (notes || []).map((note) => !$("#capabilities").hidden && note.startsWith("the picture was not searched")
      ? "The picture was not searched (see above)." : note);
    return [resultsText(results, `for “${q}”`), ...said].join(" ");
  });
});

function searchImage(file) {
  if (refuseUpload("search", file, "image")) return;
  const form = $("#search-form");
  const group = form.elements.group.value;
  const params = new URLSearchParams({ k: form.elements.k.value, copies: form.elements.copies.checked ? "hide" : "show" });
  if (group) params.set("group", group);
  run("search", `Searching with the picture ${file.name}…`, async (signal) => {
    const { results } = await upload(`/search/image?${params}`, file, signal);
    renderResults(results, group === "video");
    return resultsText(results, `like ${file.name}`);
  });
}

// Scenes like the one a result shows, across the library.
function moreLikeThis(result) {
  const name = basename(result.path);
  const k = $("#search-form").elements.k.value;
  run("search", `Looking for scenes like ${name} at ${fmtTime(result.timestamp_s)}…`, async (signal) => {
    const copies = $("#search-form").elements.copies.checked ? "hide" : "show";
    const body = { video_id: result.video_id, second: result.timestamp_s, k: Number(k), copies };
    const { anchor, results } = await call("/search/scene", { method: "POST", json: body, signal });
    renderResults(results, false);
    $("#results").prepend(el("p", { class: "anchor muted" },
      `Scenes like ${anchor.index === null ? "the moment" : `scene ${anchor.index + 1}`} of ${name} ` +
      `(${fmtTime(anchor.start_s)}–${fmtTime(anchor.end_s)}), by ${anchor.searched === "semantic" ? "what it shows" : "how it looks"}:`));
    $("#search-title").focus({ preventScroll: true });
    return resultsText(results, `like ${name} at ${fmtTime(result.timestamp_s)}`);
  });
}

function resultsText(results, what) {
  if (!results.length) return `No moments found ${what}. Try other words or fewer filters.`;
  const scenes = results.filter((r) => r.scene).length;
  return scenes === results.length
    ? `${plural(scenes, "scene")} with matching moments ${what}.`
    : `${plural(results.length, "moment")} ${what}.`;
}

function renderResults(results, grouped) {
  const box = $("#results");
  box.replaceChildren();
  if (!grouped) {
    box.append(resultList(results));
    return;
  }
  const byVideo = new Map();
  for (const result of results) byVideo.set(result.video_id, [...(byVideo.get(result.video_id) || []), result]);
  for (const moments of byVideo.values()) {
    const name = basename(moments[0].path);
    const heading = el("h3", { title: moments[0].path }, name, el("span", { class: "muted" }, ` · ${plural(moments.length, "moment")}`));
    box.append(el("section", { class: "group", "aria-label": name }, heading, resultList(moments)));
  }
}

function resultList(results) {
  return el("ol", { class: "grid" }, ...results.map((result) => el("li", {}, resultButton(result), moreButton(result))));
}

function moreButton(result) {
  const name = basename(result.path);
  return button("More like this scene", () => moreLikeThis(result),
    { name: `More scenes like ${name} at ${fmtTime(result.timestamp_s)}`, kind: "more" });
}

function resultButton(result) {
  const name = basename(result.path);
  const when = fmtTime(result.timestamp_s);
  const score = result.score.toFixed(3);
  const node = el(
    "button",
    {
      type: "button", class: "result", title: result.path, "aria-label": `${name} at ${when}, score ${score}: play`,
      "data-video-id": result.video_id, "data-t": result.timestamp_s, "data-path": result.path,
    },
    el("img", { src: result.thumbnail_url, alt: "", loading: "lazy", width: 192, height: 108 }),
    el("span", { class: "name" }, name),
    el("span", { class: "meta" }, el("span", { class: "time" }, when), el("span", { class: "score" }, `score ${score}`)),
    result.scene ? el("span", { class: "scene-span small", "data-start": result.scene.start_s, "data-end": result.scene.end_s },
      `scene ${fmtTime(result.scene.start_s)}–${fmtTime(result.scene.end_s)}` +
      (result.scene.moments > 1 ? ` · ${plural(result.scene.moments, "moment")}` : "")) : null,
    el("span", { class: "badges" }, ...(result.matched || []).map(badge)),
    result.copies ? el("span", { class: "copies small", title: result.copies.map((c) => `${c.path} at ${fmtTime(c.timestamp_s)}`).join("\n") },
      `also in ${result.copies.map((c) => basename(c.path)).join(", ")}`) : null,
    ...(result.quote ? [el("q", { class: "quote" }, ...marked(result.quote.text, result.quote.marks))] : []),
  );
  node.addEventListener("click", () => watch(result.video_id, result.timestamp_s, name));
  return node;
}

const BADGES = { visual: "picture", said: "said", subtitle: "subtitle" };

function badge(why) {
  return el("span", { class: `badge ${why}`, title: `matched: ${BADGES[why] || why}` }, BADGES[why] || why);
}

// Text with the matched words in <mark>, built from text nodes: quotes never become markup.
function marked(text, marks) {
  const parts = [];
  let at = 0;
  for (const [start, end] of marks ?? []) { // null: a line shown without a query
    if (start < at) continue;
    parts.push(text.slice(at, start), el("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts.filter((part) => part !== "");
}

// Arrow keys move between results, as in a grid; Tab still walks them in order.
$("#results").addEventListener("keydown", (event) => {
  const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
  if (!(event.key in moves) || !event.target.classList.contains("result")) return;
  const all = [...$("#results").querySelectorAll(".result")];
  const at = all.indexOf(event.target) + moves[event.key];
  all[Math.min(all.length - 1, Math.max(0, at))].focus();
  event.preventDefault();
});

// ------------------------------------------------------------------------------------------ watch

let watching = 0; // which watch() call the player's events belong to

function watch(videoId, seconds, title) {
  const token = ++watching;
  const player = $("#player");
  $("#watch").hidden = false;
  $("#watch-title").textContent = title;
  $("#watch-info").textContent = seconds ? `From ${fmtTime(seconds)}` : "";
  $("#watch-error").textContent = "";
  player.dataset.state = "loading";
  const seek = () => {
    if (token !== watching) return;
    player.addEventListener("seeked", () => {
      if (token !== watching) return;
      player.dataset.state = "ready";
      play(player);
    }, { once: true });
    player.currentTime = seconds;
  };
  if (player.dataset.videoId === videoId && player.readyState >= 1) {
    seek();
  } else {
    player.dataset.videoId = videoId;
    player.addEventListener("loadedmetadata", seek, { once: true });
    player.src = streamUrl(videoId);
  }
  loadTranscript(videoId, token);
  loadScenes(videoId, token);
  $("#watch-title").focus({ preventScroll: true });
  $("#watch").scrollIntoView({ block: "start", behavior: "smooth" });
}

// ----------------------------------------------------------------------------------------- scenes

let scenes = [];

// The video's scenes as marks along a strip under the player: each starts a scene, a click goes there.
async function loadScenes(videoId, token) {
  scenes = [];
  $("#scene-strip").hidden = true;
  let body = { scenes: [], detected: false };
  try {
    body = await call(`/videos/${encodeURIComponent(videoId)}/scenes`);
  } catch {
    // The player works without them.
  }
  if (token !== watching) return;
  scenes = body.scenes;
  $("#scene-strip").hidden = scenes.length < 2;
  const total = scenes.length ? scenes[scenes.length - 1].end_s : 1;
  $("#scene-marks").replaceChildren(...scenes.map((scene, i) => {
    const label = `Scene ${i + 1} of ${scenes.length}, ${fmtTime(scene.start_s)}–${fmtTime(scene.end_s)}`;
    const mark = el("button", {
      type: "button", class: `scene-mark ${scene.opens_with}`, title: label, "aria-label": label,
      "data-start": scene.start_s, style: `left:${(100 * scene.start_s) / total}%;width:${(100 * (scene.end_s - scene.start_s)) / total}%`,
    });
    mark.addEventListener("click", () => {
      $("#player").currentTime = scene.start_s + 0.01;
      play($("#player"));
    });
    return el("li", {}, mark);
  }));
  followScene();
}

function followScene() {
  if (!scenes.length) return;
  const t = $("#player").currentTime;
  let at = 0;
  scenes.forEach((scene, i) => { if (scene.start_s <= t + 0.05) at = i; });
  $("#scene-marks").querySelectorAll(".scene-mark").forEach((mark, i) => {
    if (i === at) mark.setAttribute("aria-current", "true");
    else mark.removeAttribute("aria-current");
  });
  const scene = scenes[at];
  $("#scene-label").textContent = `Scene ${at + 1} of ${scenes.length}: ${fmtTime(scene.start_s)}–${fmtTime(scene.end_s)}`;
}

$("#player").addEventListener("timeupdate", followScene);
$("#player").addEventListener("seeked", followScene);

// ------------------------------------------------------------------------------------- transcript

let transcript = { videoId: null, lines: [] };

async function loadTranscript(videoId, token, q = "") {
  const panel = $("#transcript");
  if (!q) $("#transcript-q").value = "";
  const params = new URLSearchParams(q ? { q } : {});
  let segments = [];
  try {
    ({ segments } = await call(`/videos/${encodeURIComponent(videoId)}/transcript?${params}`));
  } catch (error) {
    $("#transcript-status").textContent = error.message;
  }
  if (token !== watching) return;
  panel.hidden = !segments.length && !q;
  transcript = { videoId, lines: segments };
  $("#transcript-status").textContent = q
    ? (segments.length ? `${plural(segments.length, "line")} with “${q}”.` : `Nothing said or subtitled matches “${q}”.`)
    : "";
  $("#transcript-lines").replaceChildren(...segments.map(transcriptLine));
  followPlayback();
}

function transcriptLine(line) {
  const source = line.source === "speech" ? "said" : "subtitle";
  const node = el(
    "button",
    { type: "button", class: "line", "data-start": line.start_s, "aria-label": `${fmtTime(line.start_s)}: ${line.text}` },
    el("span", { class: "time" }, fmtTime(line.start_s)),
    el("span", { class: "text" }, ...marked(line.text, line.marks)),
    badge(source),
  );
  node.addEventListener("click", () => {
    const player = $("#player");
    player.currentTime = line.timestamp_s ?? line.start_s;
    play(player);
  });
  return el("li", {}, node);
}

// The line being said is marked as the video plays, and kept in view within the panel.
function followPlayback() {
  const t = $("#player").currentTime;
  let current = null;
  for (const node of $("#transcript-lines").querySelectorAll(".line")) {
    if (Number(node.dataset.start) <= t + 0.05) current = node;
    node.removeAttribute("aria-current");
  }
  if (!current) return;
  current.setAttribute("aria-current", "true");
  const list = $("#transcript-lines");
  const top = current.offsetTop - list.offsetTop;
  if (top < list.scrollTop || top + current.offsetHeight > list.scrollTop + list.clientHeight) {
    list.scrollTop = top - list.clientHeight / 3;
  }
}

$("#player").addEventListener("timeupdate", followPlayback);
$("#player").addEventListener("seeked", followPlayback);

$("#transcript-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (transcript.videoId) loadTranscript(transcript.videoId, watching, $("#transcript-q").value.trim());
});
$("#transcript-q").addEventListener("search", () => {
  if (!$("#transcript-q").value && transcript.videoId) loadTranscript(transcript.videoId, watching);
});

function play(video) {
  // Browsers may refuse sound without a gesture of their own: play muted rather than not at all.
  video.play().catch(() => {
    video.muted = true;
    return video.play();
  }).catch(() => {});
}

function closePlayer() {
  const player = $("#player");
  watching++;
  player.pause();
  player.removeAttribute("src");
  delete player.dataset.videoId;
  player.load();
  scenes = [];
  $("#watch").hidden = true;
}

$("#watch-close").addEventListener("click", closePlayer);
$("#watch").addEventListener("keydown", (event) => event.key === "Escape" && closePlayer());
$("#player").addEventListener("error", () => {
  if (!$("#player").getAttribute("src")) return;
  $("#player").dataset.state = "error";
  $("#watch-error").textContent =
    "This video cannot be played here: its file may have moved, or this browser does not play its format.";
});

// ------------------------------------------------------------------------------------------ match

let clip = { url: null, name: "" };
let comparing = null; // the match shown side by side

function matchClip(file) {
  if (refuseUpload("match", file, "video")) return;
  if (clip.url) URL.revokeObjectURL(clip.url);
  clip = { url: URL.createObjectURL(file), name: file.name };
  $("#matches").replaceChildren();
  $("#match-export").hidden = true;
  $("#compare").hidden = true;
  run("match", `Matching ${file.name} (${fmtBytes(file.size)})…`, async (signal) => {
    const { matches, export_id: exportId } = await upload("/match", file, signal);
    const durations = await sourceDurations(matches, signal);
    $("#matches").replaceChildren(...matches.map((m) => matchItem(m, durations.get(m.video_id))));
    for (const link of $("#match-export").querySelectorAll("a")) {
      link.href = `/export?id=${encodeURIComponent(exportId)}&format=${link.dataset.format}`;
    }
    $("#match-export").hidden = !matches.length;
    return matches.length
      ? `${plural(matches.length, "source")} found for ${file.name}.`
      : `No indexed video contains ${file.name}.`;
  });
}

async function sourceDurations(matches, signal) {
  const ids = [...new Set(matches.map((m) => m.video_id))];
  const found = await Promise.all(
    ids.map((id) =>
      call(`/videos/${encodeURIComponent(id)}`, { signal })
        .then((video) => [id, video.metadata && video.metadata.duration_s])
        .catch(() => [id, null]),
    ),
  );
  return new Map(found);
}

function matchItem(match, duration) {
  const name = basename(match.path);
  const total = duration || match.source_end_s || 1;
  const left = Math.min(100, (100 * match.source_start_s) / total);
  const width = Math.min(100 - left, Math.max(0.8, (100 * (match.source_end_s - match.source_start_s)) / total));
  const source = `${fmtTime(match.source_start_s)}–${fmtTime(match.source_end_s)}`;
  const timeline = el(
    "div",
    { class: "timeline", role: "img", "aria-label": `The clip sits at ${source} of ${name}, which lasts ${fmtTime(total)}.` },
    el("div", { class: "track" },
      el("div", {
        class: "region", style: `left:${left}%;width:${width}%`,
        "data-start": match.source_start_s, "data-end": match.source_end_s,
      })),
    el("div", { class: "ticks" }, el("span", {}, "0:00"), el("span", {}, fmtTime(total))),
  );
  return el(
    "li",
    { class: "match", "data-video-id": match.video_id },
    el("div", { class: "match-head" },
      el("h3", { title: match.path }, name),
      el("span", { class: "badge score" }, `visual ${match.visual_score.toFixed(2)}`),
      match.flipped ? el("span", { class: "badge score", title: "The clip is a mirror image of the source" }, "mirrored") : null,
      match.crop ? el("span", { class: "badge score", title: "The clip shows a window of the source's picture" }, "cropped") : null,
      match.speed && match.speed !== 1 ? el("span", { class: "badge score", title: "The clip plays the source at another speed" }, `${match.speed}x speed`) : null,
      audioBadge(match.audio)),
    timeline,
    el("p", { class: "aligned" },
      "Source ", el("strong", {}, source), " · clip ", el("strong", {}, `${fmtTime(match.query_start_s)}–${fmtTime(match.query_end_s)}`)),
    el("div", { class: "actions" },
      button("Compare side by side", () => compare(match, name), { name: `Compare ${name} side by side with the clip` }),
      button("Watch source", () => watch(match.video_id, match.source_start_s, name), { name: `Watch ${name} from ${fmtTime(match.source_start_s)}` })),
  );
}

function audioBadge(audio) {
  if (!audio) {
    return el("span", { class: "badge audio unknown", title: "The clip or the source has no usable audio" }, "audio unknown");
  }
  if (audio.verified) {
    return el("span", { class: "badge audio verified", title: `The clip's audio is at ${fmtTime(audio.offset_s)} of the source` }, "audio verified");
  }
  const where = audio.offset_s === null ? "was not found in the source" : `is at ${fmtTime(audio.offset_s)} of the source instead`;
  return el("span", { class: "badge audio differs", title: `The clip's audio ${where}` }, "audio differs");
}

function compare(match, name) {
  comparing = match;
  const clipPlayer = $("#clip-player"), sourcePlayer = $("#source-player");
  $("#compare").hidden = false;
  $("#compare-error").textContent = "";
  if (clipPlayer.src !== clip.url) clipPlayer.src = clip.url;
  sourcePlayer.src = streamUrl(match.video_id);
  sourcePlayer.dataset.state = "loading";
  $("#clip-caption").textContent = `Your clip, ${clip.name}, from ${fmtTime(match.query_start_s)}`;
  $("#source-caption").textContent = `${name}, from ${fmtTime(match.source_start_s)}`;
  // Show the first aligned frames right away; Play aligned starts both from there.
  Promise.all([seekTo(clipPlayer, match.query_start_s), seekTo(sourcePlayer, match.source_start_s)]).catch(() => {});
  $("#compare-title").focus({ preventScroll: true });
  $("#compare").scrollIntoView({ block: "start", behavior: "smooth" });
}

function seekTo(video, seconds) {
  return new Promise((resolve, reject) => {
    const failed = () => reject(new Error(`${video.id === "clip-player" ? "the clip" : "the source"} cannot be played here`));
    const go = () => {
      video.addEventListener("seeked", () => {
        video.removeEventListener("error", failed);
        resolve();
      }, { once: true });
      video.currentTime = seconds;
    };
    video.addEventListener("error", failed, { once: true });
    if (video.readyState >= 1) go();
    else video.addEventListener("loadedmetadata", go, { once: true });
  });
}

$("#play-aligned").addEventListener("click", async () => {
  const clipPlayer = $("#clip-player"), sourcePlayer = $("#source-player");
  clipPlayer.pause();
  sourcePlayer.pause();
  $("#compare-error").textContent = "";
  try {
    await Promise.all([seekTo(clipPlayer, comparing.query_start_s), seekTo(sourcePlayer, comparing.source_start_s)]);
  } catch (error) {
    $("#compare-error").textContent = `Cannot play side by side: ${error.message}.`;
    return;
  }
  sourcePlayer.dataset.state = "aligned";
  play(clipPlayer);
  play(sourcePlayer);
});

// ---------------------------------------------------------------------------------------- library

let jobTimer = null;
let jobsWereRunning = false;

function loadLibrary() {
  run("library", "Loading the library…", (signal) => refreshLibrary(signal).then(() => ""));
}

async function refreshLibrary(signal) {
  const [{ videos }, stats] = await Promise.all([call("/videos", { signal }), call("/stats", { signal })]);
  $("#videos tbody").replaceChildren(...(videos.length ? videos.map(videoRow) : [emptyRow()]));
  $("#library-stats").textContent =
    `${plural(stats.videos, "video")}: ${stats.complete} complete, ${stats.indexing} indexing, ` +
    `${stats.failed} failed · ${plural(stats.frames, "frame")} · ${stats.video_hours} h of video`;
  fillFilterLists(videos);
  const copies = await call("/duplicates", { signal });
  renderCopies(copies);
  markCopies(copies.groups);
}

// Each footage's longest video stands for it; the rows of its other copies say so, and hide.
function markCopies(groups) {
  for (const group of groups) {
    const [main, ...others] = [...group.videos].sort(
      (a, b) => (b.duration_s || 0) - (a.duration_s || 0) || a.path.localeCompare(b.path));
    for (const copy of others) {
      const row = $(`#videos tr[data-video-id="${copy.video_id}"]`);
      if (!row) continue;
      row.classList.add("copy");
      row.querySelector(".name").after(el("span", { class: "copy-of small muted" }, `copy of ${basename(main.path)}`));
    }
  }
  showCopies();
}

function showCopies() {
  const hide = $("#hide-copies").checked;
  for (const row of document.querySelectorAll("#videos tr.copy")) row.hidden = hide;
}

$("#hide-copies").addEventListener("change", showCopies);

const RELATION = { same: "is the same as", contains: "contains", within: "is within" };

function renderCopies({ groups, unchecked }) {
  $("#copies").hidden = !groups.length && !unchecked;
  $("#copies-note").textContent = (groups.length
    ? `${groups.length} ${groups.length === 1 ? "piece of footage is" : "pieces of footage are"} held by more than one video. `
    : "No video is a copy of another. ") +
    (unchecked ? `${plural(unchecked, "video")} indexed before copies were looked for: re-index them to check.` : "");
  $("#copy-groups").replaceChildren(...groups.map((group) => {
    const names = new Map(group.videos.map((v) => [v.video_id, basename(v.path)]));
    return el("li", { class: "copy-group", "data-videos": group.videos.map((v) => v.video_id).join(" ") },
      el("span", { class: "name" }, group.videos.map((v) => basename(v.path)).join(" · ")),
      el("ul", { class: "small muted" }, ...group.pairs.map((p) => el("li", {},
        `${names.get(p.a)} ${fmtTime(p.a_start_s)}–${fmtTime(p.a_end_s)} ${RELATION[p.relation]} ` +
        `${names.get(p.b)} ${fmtTime(p.b_start_s)}–${fmtTime(p.b_end_s)} (score ${p.score.toFixed(2)})`))));
  }));
}

function emptyRow() {
  return el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No videos yet: index a folder above, or run `vidsearch index`."));
}

function videoRow(video) {
  const name = basename(video.path);
  const meta = video.metadata;
  const audio = meta && meta.audio_tracks.length ? meta.audio_tracks[0].codec : null;
  const status = el("td", { "data-label": "Status" }, el("span", { class: `badge status ${video.status}` }, video.status));
  if (video.error) status.append(el("span", { class: "reason" }, video.error));
  return el(
    "tr",
    { "data-video-id": video.video_id, "data-status": video.status },
    el("td", { "data-label": "Video" },
      el("span", { class: "name", title: video.path }, name),
      el("span", { class: "path muted small" }, dirname(video.path))),
    status,
    el("td", { "data-label": "Duration" }, meta ? fmtTime(meta.duration_s) : "–"),
    el("td", { "data-label": "Picture" }, meta ? `${meta.width}×${meta.height} · ${Math.round(meta.fps)} fps` : "–"),
    el("td", { "data-label": "Codecs" }, meta ? [meta.video_codec, audio].filter(Boolean).join(" / ") : "–"),
    el("td", { "data-label": "Frames" }, String(video.frames)),
    el("td", { "data-label": "Actions" }, el("div", { class: "actions" },
      video.status === "complete" ? button("Play", () => watch(video.video_id, 0, name), { name: `Play ${name}` }) : null,
      button("Re-index", () => reindex(video, name), { name: `Re-index ${name}` }),
      button("Delete", () => remove(video, name), { name: `Delete ${name} from the index`, kind: "danger" }))),
  );
}

function reindex(video, name) {
  run("library", `Starting to re-index ${name}…`, async (signal) => {
    const { job } = await call(`/videos/${encodeURIComponent(video.video_id)}/reindex`, { method: "POST", auth: true, signal });
    followJob(job);
    return `Re-indexing ${name}: progress is under Index jobs.`;
  });
}

function remove(video, name) {
  if (!confirm(`Delete ${name} from the index? The file itself stays where it is.`)) return;
  run("library", `Deleting ${name}…`, async (signal) => {
    await call(`/videos/${encodeURIComponent(video.video_id)}`, { method: "DELETE", auth: true, signal });
    await refreshLibrary(signal);
    $("#library-title").focus(); // the row and its button are gone
    return `Deleted ${name} from the index.`;
  });
}

$("#index-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const path = $("#index-path").value.trim();
  if (!path) {
    showError("library", new ApiError(422, "Type the full path of a file or folder to index."));
    $("#index-path").focus();
    return;
  }
  run("library", `Starting to index ${path}…`, async (signal) => {
    const { job } = await call("/index", { method: "POST", json: { paths: [path] }, auth: true, signal });
    followJob(job);
    return `Indexing ${path}: progress is under Index jobs.`;
  });
});

$("#api-key").value = apiKey.get();
$("#api-key").addEventListener("input", (event) => apiKey.set(event.target.value.trim()));

let shownJobs = [];

function followJob(job) {
  renderJobs([job, ...shownJobs.filter((shown) => shown.job_id !== job.job_id)]);
  jobsWereRunning = true;
  refreshLibrary().catch(() => {});
  pollJobs();
}

// While a job runs, its progress and the library's statuses refresh on their own.
async function pollJobs() {
  clearTimeout(jobTimer);
  let body;
  try {
    body = await call("/jobs");
  } catch (error) {
    showError("library", error);
    return;
  }
  renderJobs(body.jobs);
  $("#roots").textContent = body.roots.length
    ? `Files and folders under ${body.roots.join(", ")} may be indexed.`
    : "Nothing may be indexed from here until a folder has been indexed with `vidsearch index`.";
  $("#index-path").placeholder = body.roots.length ? `${body.roots[0]}/…` : "";
  $("#folder-roots").textContent = body.roots.length
    ? `Clips under ${body.roots.join(", ")} may be matched.`
    : "Nothing may be matched from here until a folder has been indexed with `vidsearch index`.";
  $("#folder-path").placeholder = body.roots.length ? `${body.roots[0]}/…` : "";
  const running = body.jobs.some((job) => job.state === "running");
  if (running || jobsWereRunning) {
    await refreshLibrary().catch((error) => showError("library", error));
  }
  if (jobsWereRunning && !running && body.jobs.length) setStatus("library", jobText(body.jobs[0]));
  jobsWereRunning = running;
  if (running) jobTimer = setTimeout(pollJobs, JOB_POLL_MS);
}

function renderJobs(jobs) {
  shownJobs = jobs;
  $("#jobs").hidden = !jobs.length;
  $("#job-list").replaceChildren(...jobs.slice(0, 5).map(jobItem));
}

function jobItem(job) {
  const where = job.paths.join(", ");
  const item = el("li", { class: `job ${job.state}`, "data-job-id": job.job_id, "data-state": job.state });
  if (job.state !== "running") {
    item.append(el("span", { class: "job-title" }, where), el("span", { class: "small" }, jobText(job)));
    for (const failed of (job.summary && job.summary.failed) || []) {
      item.append(el("span", { class: "reason" }, `${basename(failed.path)}: ${failed.reason}`));
    }
    return item;
  }
  const p = job.progress || {};
  if (job.kind === "match") return matchJobItem(job, item, where, p);
  const bar = el("progress", { "aria-label": `Frames indexed under ${where}` });
  if (p.videos_total) {
    bar.max = Math.max(1, p.frames_total);
    bar.value = p.frames_done;
  } // without a value the bar is indeterminate: files are being read and planned
  const text = p.videos_total
    ? `${p.videos_done} of ${plural(p.videos_total, "video")} · ${p.frames_done} of ${plural(p.frames_total, "frame")}`
    : "Reading and checksumming files…";
  const cancel = el("button", { type: "button", class: "cancel-job" }, "Cancel");
  cancel.addEventListener("click", () => cancelJob(job, cancel));
  item.append(el("span", { class: "job-title" }, `Indexing ${where}`), bar, el("span", { class: "small" }, text), cancel);
  return item;
}

function matchJobItem(job, item, where, p) {
  const bar = el("progress", { "aria-label": `Clips matched under ${where}` });
  if (p.clips_total) {
    bar.max = p.clips_total;
    bar.value = p.clips_done;
  }
  const text = p.clips_total ? `${p.clips_done} of ${plural(p.clips_total, "clip")}` : "Finding and checksumming clips…";
  const cancel = el("button", { type: "button", class: "cancel-job" }, "Cancel");
  cancel.addEventListener("click", () => cancelJob(job, cancel));
  item.append(el("span", { class: "job-title" }, `Matching clips under ${where}`), bar, el("span", { class: "small" }, text), cancel);
  return item;
}

async function cancelJob(job, button) {
  button.disabled = true;
  try {
    await call(`/jobs/${encodeURIComponent(job.job_id)}`, { method: "DELETE", auth: true });
    setStatus("library", "Index job cancelled: what it finished stays; run it again to index the rest.");
  } catch (error) {
    showError("library", error);
  }
  await pollJobs();
}

function jobText(job) {
  if (job.kind === "match") return matchJobText(job);
  if (job.state === "failed") return `Index job stopped: ${job.error}`;
  if (job.state === "cancelled") return "Index job cancelled: run it again to index the rest.";
  if (job.state === "running") return "Index job running.";
  const s = job.summary;
  return `Index job done: ${s.indexed} indexed, ${s.skipped} unchanged, ${s.failed.length} failed; ` +
    `${plural(s.frames, "frame")} in ${s.wall_s.toFixed(1)} s.`;
}

// ------------------------------------------------------------------------------- match a folder

let folder = { job: null, rows: [], sort: "clip", descending: false, timer: null };

$("#folder-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const path = $("#folder-path").value.trim();
  if (!path) {
    showError("folder", new ApiError(422, "Type the full path of a folder (or file) of clips on the server."));
    $("#folder-path").focus();
    return;
  }
  $("#folder-results").hidden = true;
  run("folder", `Starting to match the clips under ${path}…`, async (signal) => {
    const { job } = await call("/match/jobs", { method: "POST", json: { paths: [path] }, auth: true, signal });
    folder.job = job;
    followFolder();
    return `Matching the clips under ${path}…`;
  });
});

async function followFolder() {
  clearTimeout(folder.timer);
  const id = folder.job.job_id;
  let job;
  try {
    ({ job } = await call(`/jobs/${encodeURIComponent(id)}`));
  } catch (error) {
    showError("folder", error);
    return;
  }
  const bar = $("#folder-progress");
  const p = job.progress || {};
  bar.hidden = job.state !== "running";
  if (p.clips_total) {
    bar.max = p.clips_total;
    bar.value = p.clips_done;
  } else {
    bar.removeAttribute("value"); // files are being found and checksummed
  }
  if (job.state === "running") {
    setStatus("folder", p.clips_total ? `${p.clips_done} of ${plural(p.clips_total, "clip")} done…` : "Finding and checksumming clips…", true);
    folder.timer = setTimeout(followFolder, JOB_POLL_MS);
    return;
  }
  setStatus("folder", "");
  if (job.state !== "done") {
    showError("folder", new ApiError(0, job.error || `The match job ${job.state}.`));
    return;
  }
  const s = job.summary;
  try {
    const report = await call(`/jobs/${encodeURIComponent(id)}/report?format=json`);
    folder.rows = report.rows;
  } catch (error) {
    showError("folder", error);
    return;
  }
  for (const link of $("#folder-export").querySelectorAll("a")) {
    link.href = `/jobs/${encodeURIComponent(id)}/report?format=${link.dataset.format}`;
  }
  setStatus("folder", `${plural(s.clips, "clip")}: ${s.matched} matched, ${s.unmatched} unmatched, ${s.failed.length} failed` +
    (s.skipped ? ` (${s.skipped} matched before, kept)` : "") + ` in ${s.wall_s.toFixed(1)} s.` +
    (s.note ? ` Note: ${s.note}.` : ""));
  $("#folder-results").hidden = false;
  renderFolder();
}

const SORT_KEYS = {
  clip: (r) => basename(r.clip_path).toLowerCase(),
  status: (r) => r.status,
  source: (r) => (r.source_path ? basename(r.source_path).toLowerCase() : "\uffff"),
  clip_start_s: (r) => r.clip_start_s ?? Infinity,
  source_start_s: (r) => r.source_start_s ?? Infinity,
  score: (r) => r.score ?? -Infinity,
  audio: (r) => (r.audio_verified === true ? 0 : r.audio_verified === false ? 1 : 2),
};

function renderFolder() {
  const words = $("#folder-filter").value.trim().toLowerCase();
  const status = $("#folder-show").value;
  const key = SORT_KEYS[folder.sort];
  const shown = folder.rows
    .filter((r) => !status || r.status === status)
    .filter((r) => !words || `${r.clip_path} ${r.source_path || ""}`.toLowerCase().includes(words))
    .sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      const order = x < y ? -1 : x > y ? 1 : 0;
      return folder.descending ? -order : order;
    });
  for (const th of $("#folder-table thead").querySelectorAll("th")) {
    const sorted = th.querySelector("button").dataset.sort === folder.sort;
    if (sorted) th.setAttribute("aria-sort", folder.descending ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
  const empty = el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No clip of the report matches this filter."));
  $("#folder-table tbody").replaceChildren(...(shown.length ? shown.map(folderRow) : [empty]));
}

function folderRow(r) {
  const audio = r.audio_verified === true ? "verified" : r.audio_verified === false ? "differs" : "–";
  const how = [r.flipped ? "mirrored" : null, r.inset ? `inset ${r.inset}` : null, r.crop ? "cropped" : null,
    r.speed && r.speed !== 1 ? `${r.speed}× speed` : null].filter(Boolean).join(", ");
  return el("tr", { "data-status": r.status, "data-clip": r.clip_path },
    el("td", { "data-label": "Clip" }, el("span", { class: "name", title: r.clip_path }, basename(r.clip_path))),
    el("td", { "data-label": "Status", class: "status" }, r.status, r.reason ? el("span", { class: "reason" }, r.reason) : null),
    el("td", { "data-label": "Source" }, r.source_path
      ? el("span", { class: "name", title: r.source_path }, basename(r.source_path)) : "–",
      how ? el("span", { class: "small muted" }, how) : null),
    el("td", { "data-label": "In clip" }, r.video_id ? `${fmtTime(r.clip_start_s)}–${fmtTime(r.clip_end_s)}` : "–"),
    el("td", { "data-label": "In source" }, r.video_id ? `${fmtTime(r.source_start_s)}–${fmtTime(r.source_end_s)}` : "–"),
    el("td", { "data-label": "Score" }, r.score === null || r.score === undefined ? "–" : r.score.toFixed(3)),
    el("td", { "data-label": "Audio" }, audio));
}

for (const header of $("#folder-table thead").querySelectorAll("button")) {
  header.addEventListener("click", () => {
    const sort = header.dataset.sort;
    folder.descending = folder.sort === sort ? !folder.descending : sort === "score";
    folder.sort = sort;
    renderFolder();
  });
}
$("#folder-filter").addEventListener("input", renderFolder);
$("#folder-show").addEventListener("change", renderFolder);

function matchJobText(job) {
  if (job.state === "failed") return `Match job stopped: ${job.error}`;
  if (job.state === "cancelled") return "Match job cancelled: clips it matched are kept; run it again for the rest.";
  if (job.state === "running") return "Match job running.";
  const s = job.summary;
  return `Match job done: ${plural(s.clips, "clip")}, ${s.matched} matched, ${s.unmatched} unmatched, ` +
    `${s.failed.length} failed; in ${s.wall_s.toFixed(1)} s. The report is under Match a clip → Match a folder.`;
}

// ------------------------------------------------------------------------- shared: filters, files

function fillFilterLists(videos) {
  const codecs = new Set(videos.map((v) => v.metadata && v.metadata.video_codec).filter(Boolean));
  const folders = new Set(videos.map((v) => dirname(v.path)));
  $("#codecs").replaceChildren(...[...codecs].sort().map((value) => el("option", { value })));
  $("#folders").replaceChildren(...[...folders].sort().map((value) => el("option", { value })));
}

const fileHandlers = { "image-file": searchImage, "clip-file": matchClip };

for (const [id, handle] of Object.entries(fileHandlers)) {
  const input = $(`#${id}`);
  input.addEventListener("change", () => {
    if (input.files[0]) handle(input.files[0]);
    input.value = ""; // choosing the same file again is a new request
  });
}

for (const zone of document.querySelectorAll("[data-drop]")) {
  const handle = fileHandlers[zone.dataset.drop];
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files[0]) handle(event.dataTransfer.files[0]);
  });
}
// A file dropped beside a drop zone would otherwise replace the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

// ------------------------------------------------------------------------------------------ start

async function start() {
  const initial = location.hash.slice(1);
  showView(VIEWS.includes(initial) ? initial : "search");
  try {
    const health = await call("/health");
    if (!health.capabilities.text_search) {
      const note = $("#capabilities");
      note.textContent = `Picture search is off: ${health.reasons.text_search} Search still finds what is said and subtitled, and clip matching works.`;
      note.hidden = false;
    }
    const { videos } = await call("/videos");
    fillFilterLists(videos);
  } catch (error) {
    showError("search", error);
  }
}

start();
