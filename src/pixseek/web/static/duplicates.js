// pixseek duplicates page: plain JS. Asks GET /duplicates and lists each group with thumbnails.
"use strict";

const $ = (id) => document.getElementById(id);
const statusLine = $("status"), groupsBox = $("groups");
const locked = document.body.dataset.locked === "1";
const token = sessionStorage.getItem("pixseek-token") || ""; // set by the search page's unlock form
let latest = 0;

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function headers() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function thumbnail(img, id) {
  const url = `/thumbnail/${encodeURIComponent(id)}`;
  if (!locked) { img.src = url; return; }
  const response = await fetch(url, { headers: headers() });
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
}

function tile(id, root, path) {
  const link = document.createElement("a");
  link.className = "card";
  link.href = `/image/${encodeURIComponent(id)}`;
  link.target = "_blank";
  link.rel = "noopener";
  link.title = `${root}/${path}`;
  const img = document.createElement("img");
  img.loading = "lazy";
  img.alt = path;
  thumbnail(img, id);
  const info = document.createElement("div");
  info.className = "info";
  const name = document.createElement("span");
  name.className = "path";
  name.textContent = path;
  info.append(name);
  link.append(img, info);
  return link;
}

function group(g, n) {
  const box = document.createElement("article");
  box.className = "dup-group";
  const title = document.createElement("h2");
  title.textContent = `Group ${n}: ${g.ids.length} images · weakest pair ${g.min_score.toFixed(3)}`;
  const grid = document.createElement("div");
  grid.className = "grid";
  grid.append(...g.ids.map((id, i) => tile(id, g.roots[i], g.paths[i])));
  box.append(title, grid);
  return box;
}

async function find(event) {
  if (event) event.preventDefault();
  const box = $("threshold");
  if (!box.value.trim() && !box.validity.badInput) box.value = box.defaultValue; // emptied: the default, not 0
  const threshold = box.validity.badInput ? NaN : Number(box.value);
  if (!Number.isFinite(threshold) || threshold < -1 || threshold > 1) {
    groupsBox.replaceChildren();
    setStatus("The threshold is a number from -1 to 1.", true);
    return;
  }
  if (locked && !token) {
    setStatus("This server needs an API token: unlock it on the search page first.", true);
    return;
  }
  const mine = ++latest;
  setStatus("Looking for duplicates…");
  let response;
  try {
    response = await fetch(`/duplicates?threshold=${threshold}`, { headers: headers() });
  } catch {
    if (mine === latest) setStatus("The server could not be reached.", true);
    return;
  }
  if (mine !== latest) return;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    groupsBox.replaceChildren();
    setStatus(body.error || `Error ${response.status}`, true);
    return;
  }
  groupsBox.replaceChildren(...body.groups.map((g, i) => group(g, i + 1)));
  const images = body.groups.reduce((sum, g) => sum + g.ids.length, 0);
  const unread =
    (body.unreadable.length ? `; ${body.unreadable.length} images could not be read` : "") +
    (body.changed.length ? `; ${body.changed.length} changed since they were indexed (run pixseek index)` : "");
  setStatus(
    body.groups.length
      ? `${body.groups.length} group${body.groups.length === 1 ? "" : "s"} of ${images} images at threshold ${body.threshold}${unread}`
      : `No duplicates at threshold ${body.threshold}${unread}.`,
  );
}

$("dup-form").addEventListener("submit", find);
find();
