// pixseek search page: plain JS, no build step. Talks to POST /search and renders a grid.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("search-form"), drop = $("drop"), fileInput = $("file"), preview = $("preview");
const dropText = $("drop-text"), textBox = $("text"), statusLine = $("status"), results = $("results");
const hasText = !textBox.disabled; // the page disables the box when the model has no text tower
const DROP_TEXT = dropText.innerHTML;
let chosen = null; // the File to search by, from the picker, a drop or a paste
let lastQuery = null; // what the results on screen are for: k, label and adapter changes rerun it
let latest = 0; // numbers each search, so a slow answer never replaces a newer one
// Relevance feedback: id -> {kind: "more" | "less", hit}. The server keeps no state: every search sends
// the marks; they belong to the query on screen, so a new query starts without them. A marked image the
// answer leaves out (an irrelevant one, ranked low) stays on screen after the results, so it can be unmarked.
const marks = new Map();
// With an API token set on the server, the page asks for it once and keeps it in this tab's session
// storage (never in a URL); every call sends it, and thumbnails are fetched with it as blobs.
const locked = document.body.dataset.locked === "1";
const TOKEN_KEY = "pixseek-token";
let token = sessionStorage.getItem(TOKEN_KEY) || "";
let blobUrls = [];

class Unauthorized extends Error {}

async function api(url, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { ...init, headers });
  if (response.status === 401 && locked) {
    const hadToken = Boolean(token);
    sessionStorage.removeItem(TOKEN_KEY);
    token = "";
    askToken(hadToken ? "That token was not accepted. Enter the API token." : "This server needs an API token.");
    throw new Unauthorized();
  }
  return response;
}

function askToken(message) {
  const tokenForm = $("token-form");
  tokenForm.hidden = false;
  results.replaceChildren();
  setStatus(message, true);
  $("token").focus();
}

async function loadInfo() {
  const response = await api("/info");
  if (!response.ok) { setStatus(`Error ${response.status}`, true); return; }
  const info = await response.json();
  $("meta").textContent = `${info.images} image${info.images === 1 ? "" : "s"} · model `;
  const code = document.createElement("code");
  code.textContent = info.model;
  $("meta").append(code);
  const select = $("label");
  select.replaceChildren(new Option("all", ""), ...info.labels.map((l) => new Option(l, l)));
  $("adapter-option").hidden = info.adapter === null;
  $("token-form").hidden = true;
  setStatus("");
}

async function thumbnail(img, url) {
  try {
    const response = await api(url);
    if (!response.ok) return;
    const src = URL.createObjectURL(await response.blob());
    blobUrls.push(src);
    img.src = src;
  } catch (err) {
    if (!(err instanceof Unauthorized)) throw err;
  }
}

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

// An error never sits above results that belong to an earlier search.
function fail(message) {
  latest += 1; // and an answer still on its way is not shown after it
  results.replaceChildren();
  setStatus(message, true);
}

function clearDrop() {
  chosen = null;
  fileInput.value = "";
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.removeAttribute("src");
  preview.hidden = true;
  dropText.innerHTML = DROP_TEXT;
}

function choose(file) {
  if (!file || !file.type.startsWith("image/")) {
    clearDrop();
    lastQuery = null; // nothing on screen to rerun
    fail("That is not an image.");
    return;
  }
  clearDrop();
  chosen = file;
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  dropText.textContent = file.name || "pasted image";
  newQuery({ image: file });
}

function options() {
  const fd = new FormData();
  fd.append("k", $("k").value);
  if ($("label").value) fd.append("label", $("label").value);
  if ($("folder").value.trim()) fd.append("folder", $("folder").value.trim());
  if (!$("adapter").checked) fd.append("adapter", "false"); // shown only when the index has an adapter
  return fd;
}

// What the results are for, in words: "like animals/cat.png", "for text “a cat”", "for image photo.jpg".
function describe(query) {
  let what = "marked relevant";
  if (query.like) what = `like ${query.likeName || query.like}`;
  else if (query.text) what = `for text “${query.text}”`;
  else if (query.image) what = `for image ${query.image.name || "pasted image"}`;
  const label = $("label").value, folder = $("folder").value.trim();
  if (label) what += ` with label ${label}`;
  if (folder) what += ` in folder ${folder}`;
  if (!$("adapter-option").hidden && !$("adapter").checked) what += " without the adapter";
  if (!query.refined) return what;
  const [more, less] = markCounts();
  return `${what}, refined by ${more} relevant and ${less} not relevant`;
}

// A server that cannot be reached makes fetch throw a TypeError; say so in words, not in JS.
function failure(err) {
  return err instanceof TypeError ? "The server could not be reached." : `Search failed: ${err}`;
}

// The error line of a 4xx: its "error", and for a 422 which field was wrong.
function errorText(body, status) {
  if (!body.error) return `Error ${status}`;
  const first = Array.isArray(body.detail) ? body.detail[0] : null;
  return first && first.msg ? `${body.error}: ${(first.loc || []).slice(1).join(".")} ${first.msg}` : body.error;
}

function markCounts() {
  const kinds = [...marks.values()].map((m) => m.kind);
  return [kinds.filter((k) => k === "more").length, kinds.filter((k) => k === "less").length];
}

function showMarks() {
  const [more, less] = markCounts();
  $("feedback").hidden = more + less === 0;
  $("marks-count").textContent = `${more} relevant · ${less} not relevant`;
  $("refine").disabled = more === 0 && !lastQuery;
  for (const el of results.querySelectorAll(".card")) {
    const kind = marks.get(el.dataset.id)?.kind;
    el.classList.toggle("more", kind === "more");
    el.classList.toggle("less", kind === "less");
    el.querySelector(".mark.more").setAttribute("aria-pressed", String(kind === "more"));
    el.querySelector(".mark.less").setAttribute("aria-pressed", String(kind === "less"));
  }
}

function toggleMark(hit, kind) {
  if (marks.get(hit.id)?.kind === kind) marks.delete(hit.id);
  else marks.set(hit.id, { kind, hit });
  showMarks();
}

function newQuery(query) {
  marks.clear();
  showMarks();
  search(query);
}

async function search(query) {
  lastQuery = query;
  const mine = ++latest;
  const fd = options();
  if (query.image) fd.append("image", query.image, query.image.name || "pasted.png");
  if (query.text) fd.append("text", query.text);
  if (query.like) fd.append("like", query.like);
  if (query.refined) {
    for (const [id, mark] of marks) fd.append(mark.kind === "more" ? "positive" : "negative", id);
    fd.append("include_marked", "true"); // the marked images stay on screen, relevant ones first
  }
  setStatus("Searching…");
  try {
    const response = await api("/search", { method: "POST", body: fd });
    const body = await response.json().catch(() => ({}));
    if (mine !== latest) return;
    if (!response.ok) { fail(errorText(body, response.status)); return; }
    render(body, query);
  } catch (err) {
    if (err instanceof Unauthorized) return;
    if (mine === latest) fail(failure(err));
  }
}

function markButton(hit, kind, label, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `mark ${kind}`;
  b.textContent = label;
  b.title = title;
  b.setAttribute("aria-label", title);
  b.setAttribute("aria-pressed", "false");
  b.addEventListener("click", () => toggleMark(hit, kind));
  return b;
}

// `kept`: a marked image the answer left out, shown after the results with its mark.
function card(hit, kept = false) {
  const box = document.createElement("div");
  box.className = kept ? "card kept" : "card";
  box.dataset.id = hit.id;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "open";
  button.title = `More like ${hit.path}`;
  button.setAttribute("aria-label", `Search for images like ${hit.path}`);
  const img = document.createElement("img");
  img.loading = "lazy";
  if (locked) thumbnail(img, hit.thumbnail_url);
  else img.src = hit.thumbnail_url;
  img.alt = hit.path;
  const info = document.createElement("div");
  info.className = "info";
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = kept ? "marked" : hit.score.toFixed(3);
  const path = document.createElement("span");
  path.className = "path";
  path.textContent = hit.path;
  info.append(score, path);
  button.append(img, info);
  button.addEventListener("click", () => {
    clearDrop(); // the results are no longer for the uploaded image
    newQuery({ like: hit.id, likeName: hit.path }); // the id: a path may be held under several roots
    statusLine.scrollIntoView({ block: "start" }); // a tap low on a phone: show that a new search runs
  });
  const row = document.createElement("div");
  row.className = "marks";
  row.append(
    markButton(hit, "more", "+ relevant", `Mark ${hit.path} relevant`),
    markButton(hit, "less", "− not", `Mark ${hit.path} not relevant`),
  );
  box.append(button, row);
  return box;
}

function render(body, query) {
  for (const url of blobUrls) URL.revokeObjectURL(url);
  blobUrls = [];
  const shown = new Set(body.results.map((hit) => hit.id));
  const kept = [...marks.values()].filter((m) => !shown.has(m.hit.id)).map((m) => card(m.hit, true));
  results.replaceChildren(...body.results.map((hit) => card(hit)), ...kept);
  showMarks();
  const n = body.results.length;
  const what = describe(query);
  setStatus(n ? `${n} result${n === 1 ? "" : "s"} ${what} in ${body.took_ms.toFixed(0)} ms` : `No results ${what}.`);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = hasText ? textBox.value.trim() : "";
  if (text) newQuery({ text });
  else if (chosen) newQuery({ image: chosen });
  else if (lastQuery && !lastQuery.text && !lastQuery.image) search(lastQuery); // like, or marks alone
  else {
    lastQuery = null; // the results are cleared: nothing left to rerun
    fail(hasText ? "Type some text or give an image." : "Give an image to search by (this model has no text search).");
  }
});
fileInput.addEventListener("change", () => { if (fileInput.files.length) choose(fileInput.files[0]); });
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") fileInput.click(); });
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const name of ["dragleave", "drop"]) {
  drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
}
drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));
document.addEventListener("paste", (e) => {
  const item = [...e.clipboardData.items].find((i) => i.type.startsWith("image/"));
  if (item) choose(item.getAsFile());
});
$("refine").addEventListener("click", () => {
  const base = lastQuery ? { ...lastQuery } : {};
  search({ ...base, refined: true });
});
$("clear-marks").addEventListener("click", () => {
  marks.clear();
  showMarks();
  if (lastQuery) search({ ...lastQuery, refined: false });
});
for (const id of ["k", "label", "folder", "adapter"]) {
  $(id).addEventListener("change", () => { if (lastQuery) search(lastQuery); });
}
if (locked) {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    loadInfo().catch(() => {});
  });
  if (token) loadInfo().catch(() => {});
  else askToken("This server needs an API token.");
}
