// pixseek search page: plain JS, no build step. Talks to POST /search and renders a grid.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("search-form"), drop = $("drop"), fileInput = $("file"), preview = $("preview");
const statusLine = $("status"), results = $("results");
let chosen = null; // the File to search by, from the picker, a drop or a paste

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function choose(file) {
  if (!file || !file.type.startsWith("image/")) { setStatus("That is not an image.", true); return; }
  chosen = file;
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("drop-text").textContent = file.name || "pasted image";
  search({ image: file });
}

function options() {
  const fd = new FormData();
  fd.append("k", $("k").value);
  if ($("label").value) fd.append("label", $("label").value);
  if ($("folder").value.trim()) fd.append("folder", $("folder").value.trim());
  return fd;
}

async function search(query) {
  const fd = options();
  if (query.image) fd.append("image", query.image, query.image.name || "pasted.png");
  if (query.text) fd.append("text", query.text);
  if (query.like) fd.append("like", query.like);
  setStatus("Searching…");
  try {
    const response = await fetch("/search", { method: "POST", body: fd });
    const body = await response.json();
    if (!response.ok) { setStatus(body.error || `Error ${response.status}`, true); return; }
    render(body);
  } catch (err) {
    setStatus(`Search failed: ${err}`, true);
  }
}

function render(body) {
  results.replaceChildren();
  for (const hit of body.results) {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "card";
    card.title = `More like ${hit.path}`;
    card.dataset.id = hit.id;
    const img = document.createElement("img");
    img.loading = "lazy";
    img.src = hit.thumbnail_url;
    img.alt = hit.path;
    const info = document.createElement("div");
    info.className = "info";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hit.score.toFixed(3);
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = hit.path;
    info.append(score, path);
    card.append(img, info);
    card.addEventListener("click", () => search({ like: hit.id }));
    results.append(card);
  }
  const n = body.results.length;
  setStatus(n ? `${n} results in ${body.took_ms.toFixed(0)} ms` : "No results.");
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (text) search({ text });
  else if (chosen) search({ image: chosen });
  else setStatus("Type some text or give an image.", true);
});
fileInput.addEventListener("change", () => choose(fileInput.files[0]));
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
for (const id of ["k", "label"]) {
  $(id).addEventListener("change", () => {
    const text = $("text").value.trim();
    if (text) search({ text }); else if (chosen) search({ image: chosen });
  });
}
