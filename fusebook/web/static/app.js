// The operator's page: draws the board the server streams (/api/events), nothing else.
// Every value is put in with textContent, never as HTML.
"use strict";

const WORDS = {waiting: "WAITING", connecting: "CONNECTING", planning: "PLANNING", burning: "BURNING",
               verifying: "VERIFYING", ok: "OK", failed: "FAILED", stopped: "STOPPED"};
const FINAL = new Set(["ok", "failed", "stopped"]);
let received = performance.now();
let board = null;

const $ = (id) => document.getElementById(id);

function text(el, value) {
  el.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
}

function seconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  return m + " min " + Math.floor(s - 60 * m) + " s";
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], {hour12: false}) : "";
}

function tileElement(key) {
  let el = document.querySelector(`.tile[data-key="${CSS.escape(key)}"]`);
  if (!el) {
    el = $("tile").content.firstElementChild.cloneNode(true);
    el.dataset.key = key;
    $("tiles").appendChild(el);
  }
  return el;
}

function drawTile(t) {
  const el = tileElement(t.key);
  const shown = t.last || t;  // a port waiting for its next board shows how the last unit ended
  el.dataset.state = t.display;
  el.dataset.live = t.live && !t.last ? "1" : "";
  el.dataset.elapsed = shown.elapsed_s;
  el.querySelector(".word").textContent = WORDS[t.display] || t.display.toUpperCase();
  text(el.querySelector(".where"), t.title);
  const number = el.querySelector(".unit");
  text(number, shown.unit ? "#" + shown.unit : "");
  number.hidden = number.previousElementSibling.hidden = !shown.unit;  // a ledger's units have no port number
  text(el.querySelector(".mac"), shown.factory_mac);
  text(el.querySelector(".index"), shown.index);
  text(el.querySelector(".chip"), shown.chip);
  const step = t.last ? "next board: " + (t.message || "waiting") : t.message;
  text(el.querySelector(".step"), step);
  const bad = shown.state === "failed" || shown.state === "stopped";
  el.querySelector(".reason").hidden = !(bad && shown.error);
  el.querySelector(".todo").hidden = !(bad && shown.hint);
  el.querySelector(".error").textContent = shown.error || "";
  el.querySelector(".hint").textContent = shown.hint || "";
  el.title = shown.exit_code ? `exit ${shown.exit_code} (${shown.outcome || shown.state})` : "";
}

function drawTotals(t) {
  $("t-ok").textContent = t.ok;
  $("t-failed").textContent = t.failed;
  $("t-stopped").textContent = t.stopped;
  $("t-rate").textContent = Math.round(t.units_per_hour);
  $("t-yield").textContent = t.yield === null ? "–" : (100 * t.yield).toFixed(1) + " %";
  $("t-busy").textContent = t.in_progress;
}

function row(tbody, cells, state) {
  const tr = document.createElement("tr");
  if (state) tr.dataset.state = state;
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c === null || c === undefined ? "" : String(c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function drawRecent(units) {
  const tbody = $("recent").querySelector("tbody");
  tbody.replaceChildren();
  for (const u of units) {
    row(tbody, [clock(u.time), u.port + (u.unit ? " #" + u.unit : ""), WORDS[u.state] || u.state,
                u.factory_mac, u.index, seconds(u.elapsed_s), u.state === "ok" ? "" : u.error], u.state);
  }
}

function draw(state) {
  board = state;
  received = performance.now();
  $("title").textContent = state.title;
  document.title = (state.source === "ledger" ? "fusebook dashboard: " : "fusebook station: ") + state.title;
  const keys = new Set(state.units.map((t) => t.key));
  for (const el of document.querySelectorAll(".tile")) {
    if (!keys.has(el.dataset.key)) el.remove();
  }
  state.units.forEach(drawTile);
  // keep the server's order (ports as given; a ledger's hosts)
  for (const t of state.units) $("tiles").appendChild(tileElement(t.key));
  tick();
  drawTotals(state.totals);
  drawRecent(state.recent);
  $("problem").hidden = !state.error;
  $("problem").textContent = state.error ? "The ledger cannot be read: " + state.error : "";
  if (state.ledger_search === false) {
    $("search").querySelector("button").disabled = true;
    $("search-note").textContent = "This station runs without a ledger: nothing to search.";
  }
}

function tick() {
  const dt = (performance.now() - received) / 1000;
  for (const el of document.querySelectorAll(".tile")) {
    const base = parseFloat(el.dataset.elapsed || "0");
    el.querySelector(".elapsed").textContent = seconds(el.dataset.live ? base + dt : base);
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (m) => {
    $("link").dataset.link = "live";
    $("link").textContent = "live";
    draw(JSON.parse(m.data));
  });
  source.onerror = () => {
    $("link").dataset.link = "lost";
    $("link").textContent = "reconnecting…";
  };
}

async function search(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  const mac = $("q-mac").value.trim();
  const index = $("q-index").value.trim();
  if (mac) params.set("mac", mac);
  if (index) params.set("index", index);
  const note = $("search-note");
  const tbody = $("found").querySelector("tbody");
  tbody.replaceChildren();
  note.textContent = "searching…";
  try {
    const answer = await fetch("/api/ledger?" + params.toString(), {credentials: "same-origin"});
    const body = await answer.json();
    if (!answer.ok) {
      note.textContent = body.error + (body.hint ? " (" + body.hint + ")" : "");
      return;
    }
    note.textContent = body.records.length ? `${body.records.length} record(s), newest first`
                                           : "no record of such a unit";
    for (const r of body.records) {
      row(tbody, [r.id, clock(r.started_at), r.host, r.chip, r.factory_mac, r.recipe, r.index, r.outcome,
                  r.error ? r.error.split("\n")[0] : ""], r.outcome);
    }
  } catch (e) {
    note.textContent = "the station did not answer: " + e;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", search);
  connect();
  setInterval(tick, 250);
});
