// kaizen dashboard: plain JavaScript, small SVG charts, live from the
// decision stream (Server-Sent Events read with fetch, so the token can be
// sent as a header when the server asks for one).
"use strict";

const KEEP = 200; // points per bot kept for the charts
const ROWS = 30; // decisions shown in the table
const state = { bots: new Map(), selected: null, firing: new Set(), token: sessionStorage.getItem("kaizen-token") };

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function askToken() {
  const t = window.prompt("API token (KAIZEN_TOKEN, or the second part of state/.kaizen/token):");
  if (t) {
    state.token = t.includes(":") ? t.slice(t.indexOf(":") + 1).trim() : t.trim();
    sessionStorage.setItem("kaizen-token", state.token);
  }
  return state.token;
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  for (let attempt = 0; attempt < 2; attempt++) {
    if (state.token) opts.headers.Authorization = "Bearer " + state.token;
    const r = await fetch(path, opts);
    if (r.status === 401 && attempt === 0 && askToken()) continue;
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
    return body;
  }
  throw new Error("the API token was refused");
}

function secs(t) {
  return typeof t === "number" ? t : Date.parse(t) / 1000;
}

function fmt(v, digits) {
  return v === null || v === undefined ? "" : Number(v).toFixed(digits === undefined ? 3 : digits);
}

// ---- bots ---------------------------------------------------------------

function bot(name) {
  let b = state.bots.get(name);
  if (!b) {
    b = { name, points: [], records: [], snapshot: null, paused: false, card: null };
    state.bots.set(name, b);
  }
  return b;
}

function addRecord(b, r) {
  b.records.push(r);
  if (b.records.length > ROWS) b.records.shift();
  if (r.reason === "paused") b.paused = true;
  else if (r.type === "cycle" || r.action) b.paused = false;
  if (r.action !== "run" || !r.outcome) return;
  b.points.push({
    t: secs(r.time),
    delta: r.outcome.delta,
    ema: r.inputs ? r.inputs.roi_ema : null,
    energy: r.chain ? r.chain.energy : null,
    profit: r.outcome.profit_after,
  });
  if (b.points.length > KEEP) b.points.shift();
}

function card(b) {
  if (b.card) return b.card;
  const c = document.getElementById("bot-card").content.firstElementChild.cloneNode(true);
  c.dataset.bot = b.name;
  c.querySelector(".name").textContent = b.name;
  c.addEventListener("click", (ev) => {
    const action = ev.target.dataset && ev.target.dataset.action;
    if (action) {
      act(b.name, action);
    } else {
      state.selected = b.name;
      renderDetail();
      loadModels(b.name);
    }
  });
  document.getElementById("bots").appendChild(c);
  b.card = c;
  return c;
}

async function act(name, action) {
  if (!state.token) askToken();
  try {
    const body = action === "run" ? JSON.stringify({ energy: 1 }) : "";
    const r = await api(`/api/v1/engines/${encodeURIComponent(name)}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    if (action === "pause" || action === "resume") bot(name).paused = r.paused;
    render();
    loadAudit();
  } catch (e) {
    notice(`${action} ${name}: ${e.message}`);
  }
}

function notice(text) {
  const s = document.getElementById("summary");
  s.textContent = text;
  s.classList.add("firing");
  setTimeout(() => s.classList.remove("firing"), 4000);
}

// ---- charts -------------------------------------------------------------

const NS = "http://www.w3.org/2000/svg";

function drawChart(svg, series, height) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 320, H = height, pad = 4;
  const all = series.flatMap((s) => s.points.filter((p) => p[1] !== null && p[1] !== undefined && isFinite(p[1])));
  if (all.length < 1) {
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", 6);
    t.setAttribute("y", H / 2);
    t.textContent = "no cycles yet";
    svg.appendChild(t);
    return;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(0, ...all.map((p) => p[1])), Math.max(0, ...all.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const X = (x) => pad + ((x - x0) / (x1 - x0)) * (W - 2 * pad);
  const Y = (y) => H - pad - ((y - y0) / (y1 - y0)) * (H - 2 * pad);
  const zero = document.createElementNS(NS, "line");
  zero.setAttribute("class", "axis");
  zero.setAttribute("x1", 0);
  zero.setAttribute("x2", W);
  zero.setAttribute("y1", Y(0));
  zero.setAttribute("y2", Y(0));
  svg.appendChild(zero);
  for (const s of series) {
    const pts = s.points.filter((p) => p[1] !== null && p[1] !== undefined && isFinite(p[1]));
    if (!pts.length) continue;
    const d = pts.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)} ${Y(p[1]).toFixed(1)}`).join(" ");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("class", `series ${s.cls}`);
    path.setAttribute("d", pts.length === 1 ? `${d} l1 0` : d);
    svg.appendChild(path);
  }
  const label = document.createElementNS(NS, "text");
  label.setAttribute("x", W - 4);
  label.setAttribute("y", 10);
  label.setAttribute("text-anchor", "end");
  label.textContent = `${fmt(y0, 2)} … ${fmt(y1, 2)}`;
  svg.appendChild(label);
}

// ---- rendering ----------------------------------------------------------

function render() {
  for (const b of state.bots.values()) {
    const c = card(b);
    const s = b.snapshot;
    const st = c.querySelector(".state");
    const alerting = state.firing.has(b.name);
    st.textContent = b.failed ? "failed" : b.paused ? "paused" : alerting ? "alerting" : "running";
    st.className = "badge state " + (b.failed || alerting ? "failed" : b.paused ? "paused" : "");
    c.classList.toggle("selected", state.selected === b.name);
    c.querySelector(".numbers").textContent = s
      ? `cycles ${s.cycles} · failed ${s.failures} · success ${Math.round(100 * s.success_rate)}% · EMA ${fmt(s.roi_delta_ema, 4)} · trend ${fmt(s.trend, 3)}`
      : "";
    const p = b.points;
    drawChart(c.querySelector("svg.roi"), [
      { cls: "delta", points: p.map((q) => [q.t, q.delta]) },
      { cls: "ema", points: p.map((q) => [q.t, q.ema]) },
      { cls: "profit", points: p.map((q) => [q.t, q.profit]) },
    ], 90);
    drawChart(c.querySelector("svg.energy"), [{ cls: "energy", points: p.map((q) => [q.t, q.energy]) }], 60);
  }
  const n = state.bots.size;
  const paused = [...state.bots.values()].filter((b) => b.paused).length;
  document.getElementById("summary").textContent = `${n} bot${n === 1 ? "" : "s"}, ${paused} paused`;
  renderDetail();
}

function renderDetail() {
  const section = document.getElementById("detail");
  const b = state.selected && state.bots.get(state.selected);
  section.hidden = !b;
  if (!b) return;
  document.getElementById("detail-bot").textContent = b.name;
  const tbody = document.querySelector("#decisions tbody");
  tbody.replaceChildren();
  for (const r of [...b.records].reverse()) {
    const c = r.chain || {};
    const o = r.outcome || {};
    const tr = el("tr");
    const cells = [r.time, r.action, r.reason, c.energy, fmt(c.e0, 0), fmt(c.e1, 0), fmt(c.e2, 0), fmt(c.e3, 0), fmt(c.e4, 0), fmt(c.e5, 0),
      o.delta === undefined ? "" : fmt(o.delta, 4), o.ok === undefined ? "" : o.ok ? "yes" : "no", o.error || ""];
    cells.forEach((v, i) => tr.appendChild(el("td", i === 12 ? { class: "err" } : {}, v === undefined || v === null ? "" : String(v))));
    tbody.appendChild(tr);
  }
}

function listItems(id, items, text, cls) {
  const ul = document.getElementById(id);
  ul.replaceChildren();
  if (!items.length) ul.appendChild(el("li", { class: "muted" }, "none"));
  for (const it of items) ul.appendChild(el("li", cls ? { class: cls(it) } : {}, text(it)));
}

// ---- loading ------------------------------------------------------------

async function loadEngines() {
  const r = await api("/api/v1/engines");
  for (const e of r.engines) {
    const b = bot(e.bot);
    b.engine = e.name;
    b.failed = !!e.failed;
    if (e.status) {
      b.snapshot = e.status;
      b.paused = e.status.paused;
    }
  }
}

async function loadHistory(name) {
  const r = await api(`/api/v1/engines/${encodeURIComponent(name)}/history?limit=${KEEP}`);
  const b = bot(name);
  b.points = [];
  b.records = [];
  for (const rec of r.records) if (rec.type === "cycle") addRecord(b, rec);
}

async function loadModels(name) {
  const panel = document.getElementById("models-panel");
  try {
    const r = await fetch(`/api/v1/models/${encodeURIComponent(name)}`, {
      headers: state.token ? { Authorization: "Bearer " + state.token } : {},
    });
    if (!r.ok) {
      panel.hidden = true;
      return;
    }
    const m = await r.json();
    if (!m.registry) {
      panel.hidden = true;
      return;
    }
    const tbody = document.querySelector("#models tbody");
    tbody.replaceChildren();
    for (const v of m.versions) {
      const tr = el("tr");
      const metrics = Object.entries(v.metrics || {}).map(([k, x]) => `${k}=${fmt(x, 4)}`).join(" ");
      [`v${v.id}${m.champion === v.id ? " (champion)" : ""}`, v.status, v.created, metrics].forEach((x) => tr.appendChild(el("td", {}, x)));
      tbody.appendChild(tr);
    }
    panel.hidden = false;
  } catch (e) {
    panel.hidden = true;
  }
}

// Each bot's serving variant and its running A/B test (GET /api/v1/variants).
async function loadVariants() {
  const r = await api("/api/v1/variants");
  const tbody = document.querySelector("#variants tbody");
  tbody.replaceChildren();
  const bound = (x) => (x === null || x === undefined ? "∞" : fmt(x, 4));
  for (const v of r.bots) {
    const tr = el("tr", { "data-bot": v.bot });
    const t = v.test;
    const s = t && t.status;
    const cells = v.error
      ? [v.bot, v.error]
      : [
          v.bot,
          String(v.serving),
          `${v.members} (generation ${v.generation}, ${v.promotions} promoted)`,
          t ? String(t.challenger) : "—",
          s ? `${s.serving_outcomes} + ${s.challenger_outcomes}` : "",
          s ? `${fmt(s.evidence, 2)} / ${fmt(s.threshold, 0)}` : "",
          s ? fmt(s.uplift, 4) : "",
          s ? `[${s.confidence_sequence[0] === null ? "-∞" : fmt(s.confidence_sequence[0], 4)}, ${bound(s.confidence_sequence[1])}]` : "",
          s ? s.decision : "no test",
        ];
    cells.forEach((x) => tr.appendChild(el("td", {}, x)));
    tbody.appendChild(tr);
  }
  document.getElementById("variants-panel").hidden = r.bots.length === 0;
}

async function loadFleet() {
  const [alerts, scale] = await Promise.all([api("/api/v1/alerts"), api("/api/v1/autoscale")]);
  const firing = alerts.firing.map((a) => Object.assign({ firing: true }, a));
  state.firing = new Set(firing.filter((a) => a.bot).map((a) => a.bot));
  const recent = alerts.recent.filter((a) => a.state === "resolved").slice(-5).reverse();
  listItems("alerts", firing.concat(recent), (a) => `${a.firing ? "FIRING" : "resolved"} ${a.alert}${a.bot ? " (" + a.bot + ")" : ""} since ${a.time}: ${a.message}`, (a) => (a.firing ? "firing" : "muted"));
  listItems("conditions", scale.conditions, (c) => `${c.type} ${c.status ? "True" : "False"} — ${c.reason}: ${c.message}`);
}

async function loadAudit() {
  const r = await api("/api/v1/audit?limit=20");
  listItems("audit", r.entries.slice().reverse(), (a) => `${a.time} ${a.who} ${a.action}${a.bot ? " " + a.bot : ""}${a.detail ? " (" + a.detail + ")" : ""}${a.error ? " — failed: " + a.error : ""}`);
}

// ---- the decision stream --------------------------------------------------

function onEvent(kind, data) {
  if (kind === "cycle") {
    const b = bot(data.bot);
    addRecord(b, data);
    scheduleRender();
  } else if (kind === "alert" || kind === "autoscale") {
    loadFleet().catch(() => {});
  } else if (kind === "variant") {
    loadVariants().catch(() => {});
  } else if (kind === "engine") {
    loadEngines().then(scheduleRender).catch(() => {});
  }
}

let pending = false;
function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

async function stream() {
  const badge = document.getElementById("stream");
  for (;;) {
    try {
      const r = await fetch("/api/v1/decisions", {
        headers: state.token ? { Authorization: "Bearer " + state.token } : {},
      });
      if (!r.ok) throw new Error(r.statusText);
      badge.textContent = "stream: live";
      badge.className = "badge";
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let kind = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) kind = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(kind, JSON.parse(data));
        }
      }
    } catch (e) {
      // reconnect below
    }
    badge.textContent = "stream: reconnecting";
    badge.className = "badge off";
    await new Promise((res) => setTimeout(res, 2000));
  }
}

async function start() {
  document.getElementById("token").addEventListener("click", askToken);
  try {
    await loadEngines();
    await Promise.all([...state.bots.keys()].map(loadHistory));
    render();
    await Promise.all([loadFleet(), loadAudit(), loadVariants()]);
    render();
  } catch (e) {
    notice("cannot load: " + e.message);
  }
  stream();
  setInterval(() => {
    Promise.all([loadEngines(), loadFleet(), loadAudit(), loadVariants()]).then(render).catch(() => {});
  }, 5000);
}

start();
