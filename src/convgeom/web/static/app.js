/* convgeom playground. Every number on the page comes from the server (the geometry engine);
 * this script only moves fields to the JSON API and restyles the cells of convgeom.draw's SVG
 * that the server's sweep names (a window, or the outputs reading an input cell). */
"use strict";

const LABELS = {
  op: "Operation", framework: "Framework", input: "Input size", kernel: "Kernel size", stride: "Stride",
  padding: "Padding", dilation: "Dilation", output_padding: "Output padding", output_size: "Requested output size",
  groups: "Groups", in_channels: "In channels", out_channels: "Out channels", ceil_mode: "Ceil mode",
  count_include_pad: "Count padding", divisor: "Divisor", padding_mode: "Padding mode",
  output: "Target output size", size: "Size", scale: "Scale factor", view: "Transposed view", values: "Show values",
};
const ORDER = ["op", "framework", "input", "kernel", "stride", "padding", "dilation", "output_padding",
  "output_size", "groups", "in_channels", "out_channels", "ceil_mode", "count_include_pad", "divisor",
  "padding_mode", "output", "size", "scale", "view", "values"];
const PLACEHOLDERS = {
  input: "e.g. 7 or 7,5", kernel: "e.g. 3 or 3,5", stride: "default", padding: "0, 1:2, same ...",
  dilation: "1", output_padding: "0", output_size: "optional", groups: "1", in_channels: "optional",
  out_channels: "optional", divisor: "optional", output: "e.g. 7 or 7,5", size: "e.g. 14", scale: "e.g. 2",
};
const DEFAULTS = { op: "conv", framework: "torch", input: "7,7", kernel: "3", stride: "2", padding: "1" };
const CHECKBOXES = ["ceil_mode", "values"];

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c);
  return node;
};
const shape = (values) => "(" + values.join(", ") + (values.length === 1 ? ",)" : ")");

let OPTIONS = null;

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  return { ok: response.ok, status: response.status, body };
}

function post(path, data, signal) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data), signal });
}

/* ------------------------------------------------------------------ the form */
function buildForm() {
  const form = $("controls");
  for (const name of ORDER) {
    const id = "f-" + name;
    const wrap = el("div", { class: "field", "data-field": name });
    let control;
    if (name === "op") {
      control = el("select", { id });
      for (const op of Object.keys(OPTIONS.ops)) control.append(el("option", { value: op, text: op }));
    } else if (name === "framework" || name === "count_include_pad" || name === "padding_mode" || name === "view") {
      control = el("select", { id });
      if (name === "framework") for (const [k, label] of Object.entries(OPTIONS.frameworks)) control.append(el("option", { value: k, text: label }));
      if (name === "count_include_pad") for (const [v, t] of [["", "framework default"], ["true", "yes"], ["false", "no"]]) control.append(el("option", { value: v, text: t }));
      if (name === "padding_mode") for (const m of OPTIONS.padding_modes) control.append(el("option", { value: m, text: m }));
      if (name === "view") for (const v of OPTIONS.views) control.append(el("option", { value: v, text: v }));
    } else if (CHECKBOXES.includes(name)) {
      control = el("input", { id, type: "checkbox" });
      wrap.classList.add("check");
    } else {
      control = el("input", { id, type: "text", spellcheck: "false", autocapitalize: "off", placeholder: PLACEHOLDERS[name] || "" });
      if (name === "padding") control.setAttribute("list", "padding-names");
    }
    const label = el("label", { for: id, text: LABELS[name] });
    const help = OPTIONS.options[name];
    if (help) control.title = help;
    if (CHECKBOXES.includes(name)) wrap.append(control, label); else wrap.append(label, control);
    form.append(wrap);
    control.addEventListener(control.tagName === "SELECT" || control.type === "checkbox" ? "change" : "input", () => {
      if (name === "op") showFields();
      schedule();
    });
  }
  const list = el("datalist", { id: "padding-names" });
  for (const p of OPTIONS.padding_names) list.append(el("option", { value: p }));
  form.append(list);
}

function control(name) { return $("f-" + name); }

function visibleFields() {
  const op = control("op").value;
  const spec = OPTIONS.ops[op];
  const shown = new Set(["op", "input", ...spec.takes]);
  if (OPTIONS.channel_ops.includes(op)) { shown.add("in_channels"); shown.add("out_channels"); }
  if (op === "conv-transpose") shown.add("view");
  if (OPTIONS.values_ops.includes(op)) shown.add("values");
  return shown;
}

function showFields() {
  const shown = visibleFields();
  for (const wrap of document.querySelectorAll("#controls .field")) wrap.hidden = !shown.has(wrap.dataset.field);
}

function readFields() {
  const shown = visibleFields();
  const data = {};
  for (const name of ORDER) {
    if (!shown.has(name)) continue;
    const c = control(name);
    if (c.type === "checkbox") { if (c.checked) data[name] = true; continue; }
    const v = c.value.trim();
    if (v !== "") data[name] = v;
  }
  return data;
}

/* ``data`` is the whole state (a link's fields: what it leaves out is empty), op and framework
 * default to the first choices */
function writeFields(data) {
  for (const name of ORDER) {
    const c = control(name);
    if (!c) continue;
    const v = data[name] !== undefined ? data[name] : "";
    if (c.type === "checkbox") c.checked = v === true || v === "true";
    else if (c.tagName === "SELECT" && v === "") c.selectedIndex = 0;
    else c.value = v;
  }
  showFields();
}

function fieldsFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const data = {};
  for (const [k, v] of params) if (ORDER.includes(k)) data[k] = v;
  return Object.keys(data).length ? data : null;
}

/* ------------------------------------------------------------------ one layer */
let timer = null, latest = 0, inflight = null;

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(update, 150);
}

async function update() {
  const data = readFields();
  history.replaceState(null, "", "#" + new URLSearchParams(Object.entries(data).map(([k, v]) => [k, String(v)])).toString());
  const seq = ++latest;
  if (inflight) inflight.abort();
  inflight = new AbortController();
  $("results").setAttribute("aria-busy", "true");
  let reply;
  try {
    reply = await post("/api/layer", data, inflight.signal);
  } catch (err) {
    if (err.name === "AbortError") return;
    reply = { ok: false, status: 0, body: { error: "the server did not answer (" + err.message + ")" } };
  }
  if (seq !== latest) return;
  $("results").setAttribute("aria-busy", "false");
  if (reply.ok) showLayer(reply.body, data); else showRefusal(reply.body, reply.status);
}

function showRefusal(body, status) {
  const message = (body && body.error) || ("HTTP " + status);
  $("error").textContent = message;
  $("error").hidden = false;
  $("output-size").textContent = "\u2014";
  $("pads").textContent = "";
  player.clear();
  $("picture-box").hidden = true;
  $("picture-note").hidden = true;
  $("explanation").textContent = (body && body.explanation) || "";
  $("findings").replaceChildren(el("li", { class: "ok", text: "No diagnostics: the layer is refused (see above)." }));
  showFrameworks(body && body.frameworks);
  $("code").replaceChildren();
  document.body.dataset.state = "refused";
}

function showLayer(body, data) {
  $("error").hidden = true;
  $("error").textContent = "";
  $("output-size").textContent = body.output_text;
  const s = body.shape;
  if (s.pad_before) {
    const side = s.op === "conv_transpose" ? "crop" : "padding";
    $("pads").textContent = side + " (before, after): " + s.pad_before.map((b, i) => "(" + b + ", " + s.pad_after[i] + ")").join(", ");
  } else $("pads").textContent = "";
  $("explanation").textContent = body.explanation;
  showFindings(body.findings);
  showFrameworks(body.frameworks);
  $("picture-box").hidden = false;
  $("player").hidden = !(body.picture && body.picture.svg);
  if (body.picture && body.picture.svg) {
    $("picture-note").hidden = true;
    player.load(body.picture);
  } else {
    player.clear();
    $("picture-note").textContent = body.picture ? body.picture.error : "";
    $("picture-note").hidden = !body.picture;
  }
  document.body.dataset.state = "ok";
  loadCode(data);
}

function showFindings(findings) {
  const list = $("findings");
  list.replaceChildren();
  if (!findings.length) {
    list.append(el("li", { class: "ok", text: "Nothing to report: no dropped rows, gaps, ceil-mode overhang, asymmetric 'same' or checkerboard risk." }));
    return;
  }
  for (const f of findings) {
    const item = el("li", { class: f.severity, "data-code": f.code });
    item.append(el("span", { class: "badge", text: f.severity }), " ", el("strong", { text: f.code.replace(/-/g, " ") }), ": " + f.message);
    if (f.fix) item.append(el("div", { class: "fix", text: "Fix: " + f.fix }));
    list.append(item);
  }
}

function showFrameworks(frameworks) {
  const body = $("frameworks").tBodies[0];
  body.replaceChildren();
  if (!frameworks) return;
  for (const row of frameworks.rows) {
    const tr = el("tr", { class: [row.chosen ? "chosen" : "", row.error ? "refused" : "", row.differences.length ? "differs" : ""].join(" ").trim(), "data-framework": row.framework });
    tr.append(el("th", { scope: "row", text: row.label + (row.chosen ? " (chosen)" : "") }));
    if (row.error) {
      tr.append(el("td", { "data-label": "Output", text: "refused" }), el("td", { "data-label": "Padding", text: "\u2014" }));
    } else {
      tr.append(el("td", { "data-label": "Output", text: shape(row.output) }),
        el("td", { "data-label": "Padding", text: row.pad_before.map((b, i) => "(" + b + ", " + row.pad_after[i] + ")").join(", ") }));
    }
    const same = row.error ? "refuses it too" : "same as the chosen framework";
    const note = row.chosen ? (row.error ? "" : "\u2014") : (row.differences.join("; ") || same);
    const td = el("td", { "data-label": "Differs", text: note });
    if (row.error) td.append(el("div", { class: "why", text: row.error }));
    tr.append(td);
    body.append(tr);
  }
}

/* ------------------------------------------------------------------ copy as code */
let codeSeq = 0;
async function loadCode(data) {
  const seq = ++codeSeq;
  const box = $("code");
  const reply = await post("/api/port", data).catch((err) => ({ ok: false, body: { error: err.message } }));
  if (seq !== codeSeq) return;
  box.replaceChildren();
  if (!reply.ok) { box.append(el("p", { class: "note", text: reply.body.error })); return; }
  for (const t of reply.body.targets) {
    const block = el("div", { class: "code-block", "data-framework": t.framework });
    const head = el("div", { class: "code-head" }, el("strong", { text: t.label }));
    if (t.error) {
      block.append(head, el("p", { class: "note", text: t.error }));
    } else {
      const button = el("button", { type: "button", class: "copy", text: "Copy " + t.label });
      const pre = el("pre", { class: "code-text", text: t.code });
      button.addEventListener("click", () => copyText(t.code, button));
      head.append(" ", el("span", { class: "exact", text: t.exact_for === "all" ? "exact for every input size" : "exact for " + t.exact_for }), button);
      block.append(head, pre);
      for (const n of t.notes) block.append(el("p", { class: "note", text: n }));
    }
    box.append(block);
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", { class: "offscreen" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const before = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = before; }, 1200);
}

/* ------------------------------------------------------------------ the picture */
const player = {
  svg: null, sweep: null, paints: null, cells: null, inverse: null, frame: 0, count: 0, timer: null, lit: [],
  hovering: false,

  clear() {
    this.stop();
    $("grid").replaceChildren();
    $("caption").textContent = "";
    this.svg = null; this.sweep = null; this.count = 0;
    this.updateControls();
  },

  load(picture) {
    const wasPlaying = this.timer !== null;
    this.stop();
    const grid = $("grid");
    grid.innerHTML = picture.svg;
    this.svg = grid.querySelector("svg");
    const width = +this.svg.getAttribute("width");
    this.svg.style.maxWidth = width + "px";
    this.svg.style.minWidth = Math.round(width * 0.4) + "px"; // text stays legible on a phone: scroll beyond that
    this.svg.removeAttribute("height");
    this.svg.setAttribute("width", "100%");
    this.sweep = picture.sweep;
    this.paints = picture.paints;
    this.lit = [];
    this.cells = new Map();
    for (const g of this.svg.querySelectorAll("g[data-grid]")) {
      const index = new Map();
      for (const rect of g.querySelectorAll("rect[data-pos]")) index.set(rect.dataset.pos, rect);
      this.cells.set(g.dataset.grid, index);
    }
    this.count = this.sweep ? this.sweep.shape.reduce((a, b) => a * b, 1) : 0;
    this.inverse = this.sweep ? this.sweep.taps.map((axis) => {
      const map = new Map();
      axis.forEach((taps, p) => { for (const t of taps) { if (!map.has(t)) map.set(t, []); map.get(t).push(p); } });
      return map;
    }) : null;
    if (this.frame >= this.count) this.frame = 0;
    this.updateControls();
    if (this.count) this.show(this.frame); else $("caption").textContent = "";
    if (wasPlaying && this.count) this.play();
  },

  position(index) {
    const pos = [];
    for (let a = this.sweep.shape.length - 1; a >= 0; a--) { pos.unshift(index % this.sweep.shape[a]); index = Math.floor(index / this.sweep.shape[a]); }
    return pos;
  },

  restore() {
    for (const { rect, saved, texts } of this.lit) {
      for (const [k, v] of Object.entries(saved)) { if (v === null) rect.removeAttribute(k); else rect.setAttribute(k, v); }
      for (const [t, fill] of texts) t.setAttribute("fill", fill);
    }
    this.lit = [];
    for (const o of this.svg ? this.svg.querySelectorAll("rect.live-outline") : []) o.remove();
  },

  paint(rect, key, klass) {
    const paint = this.paints.lit[key];
    const saved = {};
    for (const k of ["fill", "stroke", "stroke-width", "stroke-dasharray", "class"]) saved[k] = rect.getAttribute(k);
    const texts = [...rect.parentNode.querySelectorAll("text")].map((t) => [t, t.getAttribute("fill")]);
    this.lit.push({ rect, saved, texts });
    rect.setAttribute("fill", paint.fill);
    rect.setAttribute("stroke", paint.stroke);
    rect.setAttribute("stroke-width", paint["stroke-width"]);
    if (paint["stroke-dasharray"]) rect.setAttribute("stroke-dasharray", paint["stroke-dasharray"]); else rect.removeAttribute("stroke-dasharray");
    rect.setAttribute("class", klass);
    for (const [t] of texts) t.setAttribute("fill", paint.text);
    rect.parentNode.parentNode.appendChild(rect.parentNode); // drawn last: its outline on top
  },

  outline(rects) {
    const groups = new Map();
    for (const r of rects) {
      const key = r.dataset.pos.split(",").slice(0, -2).join(",");
      const box = [+r.getAttribute("x"), +r.getAttribute("y"), +r.getAttribute("x") + +r.getAttribute("width"), +r.getAttribute("y") + +r.getAttribute("height")];
      const g = groups.get(key);
      groups.set(key, g ? [Math.min(g[0], box[0]), Math.min(g[1], box[1]), Math.max(g[2], box[2]), Math.max(g[3], box[3])] : box);
    }
    const paint = this.paints.lit.outline;
    for (const [x0, y0, x1, y1] of groups.values()) {
      const ns = "http://www.w3.org/2000/svg";
      const o = document.createElementNS(ns, "rect");
      for (const [k, v] of Object.entries({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none", stroke: paint.stroke, "stroke-width": paint["stroke-width"], class: "live-outline", "pointer-events": "none" })) o.setAttribute(k, v);
      this.svg.appendChild(o);
    }
  },

  product(lists) {
    return lists.reduce((acc, list) => acc.flatMap((a) => list.map((v) => a.concat([v]))), [[]]);
  },

  where(perAxis) {
    const s = this.sweep;
    return perAxis.map((t, a) => {
      const shift = s.shift[a] || 0;
      const first = t[0] + shift, last = t[t.length - 1] + shift;
      if (t.length === 1) return s.names[a] + " " + first;
      const step = t[1] - t[0];
      return s.names[a] + " " + first + ".." + last + (step !== 1 ? " every " + step : "");
    }).join(", ");
  },

  show(index) {
    if (!this.sweep || !this.count) return;
    this.frame = index;
    const s = this.sweep;
    const pos = this.position(index);
    this.restore();
    const perAxis = pos.map((p, a) => s.taps[a][p]);
    const grid = this.cells.get(s.grid);
    const window = [];
    for (const cell of this.product(perAxis)) {
      const rect = grid.get(cell.join(","));
      if (!rect) continue;
      window.push(rect);
      this.paint(rect, this.paints.window[rect.dataset.role], "window");
    }
    for (const m of s.mirrors) {
      const mg = this.cells.get(m.grid);
      for (const cell of this.product(perAxis)) {
        const at = cell.map((v, a) => v + m.offset[a]);
        if (at.some((v, a) => v < 0 || v >= m.shape[a])) continue;
        const rect = mg.get(at.join(","));
        if (rect) this.paint(rect, this.paints.window.input, "window");
      }
    }
    const target = this.cells.get(s.target).get(pos.map((p, a) => p + s.offset[a]).join(","));
    if (target) this.paint(target, this.paints.focus[target.dataset.role], "focus");
    this.outline(window);
    const caption = s.captions ? s.captions[index] : s.template.replace("{noun}", s.noun).replace("{pos}", pos.join(",")).replace("{grid}", s.grid).replace("{where}", this.where(perAxis));
    $("caption").textContent = caption;
    this.updateControls();
  },

  /* an input cell: light the output cells whose windows read it */
  showReaders(rect) {
    const s = this.sweep;
    const pos = rect.dataset.pos.split(",").map(Number);
    const lists = pos.map((g, a) => this.inverse[a].get(g) || []);
    this.restore();
    const target = this.cells.get(s.target);
    let n = 0;
    for (const p of this.product(lists)) {
      const out = target.get(p.map((v, a) => v + s.offset[a]).join(","));
      if (!out) continue;
      n++;
      this.paint(out, this.paints.window.output, "window");
    }
    this.paint(rect, this.paints.focus[rect.dataset.role], "focus");
    const verb = s.template.includes("writes") ? "written by" : (s.template.includes("sees") ? "seen by" : "read by");
    const shown = pos.map((g, a) => g + (s.shift[a] || 0)).join(",");
    $("caption").textContent = s.grid + " (" + shown + ") is " + verb + " " + n + " " + s.noun + " cell" + (n === 1 ? "" : "s");
  },

  hover(event) {
    const rect = event.target.closest && event.target.closest("rect[data-pos]");
    if (!rect || !this.sweep) return;
    const name = rect.closest("g[data-grid]").dataset.grid;
    if (name === this.sweep.target) {
      const pos = rect.dataset.pos.split(",").map((v, a) => +v - this.sweep.offset[a]);
      if (pos.some((v, a) => v < 0 || v >= this.sweep.shape[a])) return;
      this.hovering = true;
      this.show(pos.reduce((i, v, a) => i * this.sweep.shape[a] + v, 0));
    } else if (name === this.sweep.grid) {
      this.hovering = true;
      this.showReaders(rect);
    }
  },

  leave() {
    if (!this.hovering) return;
    this.hovering = false;
    this.show(this.frame);
  },

  play() {
    if (!this.count) return;
    this.stop();
    this.timer = setInterval(() => { if (!this.hovering) this.show((this.frame + 1) % this.count); }, +$("speed").value);
    this.updateControls();
  },

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.updateControls();
  },

  step(delta) {
    if (!this.count) return;
    this.stop();
    this.show((this.frame + delta + this.count) % this.count);
  },

  updateControls() {
    const has = this.count > 0;
    for (const id of ["prev", "play", "next", "position", "speed"]) $(id).disabled = !has;
    $("play").textContent = this.timer !== null ? "Pause" : "Play";
    $("play").setAttribute("aria-label", this.timer !== null ? "Pause" : "Play");
    $("position").max = Math.max(0, this.count - 1);
    $("position").value = this.frame;
    $("position-text").textContent = has ? (this.frame + 1) + " of " + this.count : "";
  },
};

function initPlayer() {
  $("prev").addEventListener("click", () => player.step(-1));
  $("next").addEventListener("click", () => player.step(1));
  $("play").addEventListener("click", () => (player.timer !== null ? player.stop() : player.play()));
  $("position").addEventListener("input", (e) => { player.stop(); player.show(+e.target.value); });
  $("speed").addEventListener("change", () => { if (player.timer !== null) player.play(); });
  const grid = $("grid");
  grid.addEventListener("mouseover", (e) => player.hover(e));
  grid.addEventListener("mouseleave", () => player.leave());
  grid.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") { player.step(1); e.preventDefault(); }
    if (e.key === "ArrowLeft") { player.step(-1); e.preventDefault(); }
    if (e.key === " ") { player.timer !== null ? player.stop() : player.play(); e.preventDefault(); }
  });
}

/* ------------------------------------------------------------------ tabs */
function initTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (tab.id === "tab-practice") practice.start();
  };
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => select(t));
    t.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d) { const next = tabs[(i + d + tabs.length) % tabs.length]; next.focus(); select(next); }
    });
  });
}

/* ------------------------------------------------------------------ model table */
function initModel() {
  $("upload-cap").textContent = "Largest file: " + Math.round(OPTIONS.max_upload / 1048576) + " MiB.";
  $("trace-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("model-file").files[0];
    const error = $("trace-error");
    error.hidden = true;
    if (!file) { error.textContent = "choose an .onnx file first"; error.hidden = false; return; }
    if (file.size > OPTIONS.max_upload) {
      error.textContent = "the file has " + file.size.toLocaleString() + " bytes, more than the cap of " + OPTIONS.max_upload.toLocaleString();
      error.hidden = false;
      return;
    }
    const shape = $("model-input").value.trim();
    const query = shape ? "?input=" + encodeURIComponent(shape) : "";
    $("trace-button").disabled = true;
    $("trace-summary").textContent = "Tracing " + file.name + " ...";
    $("trace-table").replaceChildren();
    $("trace-findings").replaceChildren();
    const reply = await api("/api/trace" + query, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: file })
      .catch((err) => ({ ok: false, body: { error: "the server did not answer (" + err.message + ")" } }));
    $("trace-button").disabled = false;
    if (!reply.ok) { $("trace-summary").textContent = ""; error.textContent = reply.body.error || "HTTP " + reply.status; error.hidden = false; return; }
    showTrace(reply.body, file.name);
  });
}

const fmt = (v) => (Array.isArray(v) ? v.map(fmt).join(" x ") : v === null || v === undefined ? "" : String(v));

function showTrace(t, name) {
  const rf = t.receptive_field;
  $("trace-summary").replaceChildren(
    el("p", {}, el("strong", { text: name }), " \u2014 input " + t.input_shapes.map((s) => "(" + s.join(", ") + ")").join(", ") +
      " \u2192 output " + t.output_shapes.map((s) => "(" + s.join(", ") + ")").join(", ") + "; " + t.params.toLocaleString() + " parameters, " +
      t.macs.toLocaleString() + " MACs" + (rf ? "; receptive field " + fmt(rf.size) + ", effective stride " + fmt(rf.stride) : "")));
  const table = $("trace-table");
  const head = el("tr");
  for (const h of ["#", "Layer", "Op", "Output shape", "Kernel", "Stride", "Padding", "Dilation", "RF size", "RF stride", "RF padding"]) head.append(el("th", { scope: "col", text: h }));
  const body = el("tbody");
  for (const l of t.layers) {
    const r = l.receptive_field;
    const tr = el("tr");
    const cells = [l.index, l.name, l.op, (l.output_shapes[0] || []).join(" x "), fmt(l.kernel), fmt(l.stride),
      l.padding ? l.padding.map((p) => "(" + p.join(", ") + ")").join(" ") : "", fmt(l.dilation),
      r ? fmt(r.size) : "", r ? fmt(r.stride) : "", r ? fmt(r.padding) : ""];
    cells.forEach((c, i) => tr.append(el(i === 1 ? "th" : "td", i === 1 ? { scope: "row", text: c } : { text: c })));
    body.append(tr);
  }
  table.replaceChildren(el("thead", {}, head), body);
  const list = $("trace-findings");
  list.replaceChildren();
  for (const f of t.findings) {
    const item = el("li", { class: f.severity });
    item.append(el("span", { class: "badge", text: f.severity }), " ", el("strong", { text: f.code }), (f.layer ? " [" + f.layer + "]" : "") + ": " + f.message);
    if (f.fix) item.append(el("div", { class: "fix", text: "Fix: " + f.fix }));
    list.append(item);
  }
}

/* ------------------------------------------------------------------ practice */
const practice = {
  started: false, set: [], index: 0, right: 0, answered: 0,

  async start() {
    if (this.started) return;
    this.started = true;
    await this.fetchSet();
  },

  async fetchSet() {
    const q = new URLSearchParams({ count: "10" });
    for (const [k, id] of [["kind", "quiz-kind"], ["framework", "quiz-framework"], ["difficulty", "quiz-difficulty"], ["seed", "quiz-seed"]]) {
      const v = $(id).value.trim();
      if (v) q.set(k, v);
    }
    const reply = await api("/api/quiz?" + q.toString()).catch((err) => ({ ok: false, body: { error: err.message } }));
    const error = $("quiz-error");
    if (!reply.ok) { error.textContent = reply.body.error; error.hidden = false; $("exercise").hidden = true; return; }
    error.hidden = true;
    this.fillSettings(reply.body);
    this.set = reply.body.exercises;
    this.index = 0;
    this.show();
  },

  fillSettings(body) {
    const kind = $("quiz-kind"), diff = $("quiz-difficulty"), fw = $("quiz-framework");
    if (kind.options.length === 1) for (const k of body.kinds) kind.append(el("option", { value: k, text: k.replace(/[_-]/g, " ") }));
    if (!diff.options.length) for (const d of body.difficulties) diff.append(el("option", { value: d, text: d, selected: d === "medium" }));
    if (fw.options.length === 1) for (const [k, label] of Object.entries(OPTIONS.frameworks)) fw.append(el("option", { value: k, text: label }));
  },

  show() {
    const e = this.set[this.index];
    $("exercise").hidden = !e;
    if (!e) return;
    $("exercise-meta").textContent = "Exercise " + (this.index + 1) + " of " + this.set.length + " \u00b7 " + e.kind.replace(/[_-]/g, " ") + " \u00b7 " + (OPTIONS.frameworks[e.framework] || e.framework || "") + " \u00b7 " + e.difficulty;
    // `code` spans of the question (markdown, as the worksheet prints it) shown as code
    $("question").replaceChildren(...e.question.split("`").map((part, i) => (i % 2 ? el("code", { text: part }) : part)));
    const params = $("exercise-params");
    params.replaceChildren();
    for (const [k, v] of Object.entries(e.params || {})) params.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    $("answer").value = "";
    $("answer").disabled = false;
    $("check").disabled = false;
    $("verdict").hidden = true;
    $("quiz-explanation").hidden = true;
    $("next-exercise").hidden = true;
  },

  async check() {
    const e = this.set[this.index];
    if (!e) return;
    $("check").disabled = true;
    const reply = await post("/api/quiz/check", { key: e.key, answer: $("answer").value }).catch((err) => ({ ok: false, body: { error: err.message } }));
    const verdict = $("verdict");
    verdict.hidden = false;
    if (!reply.ok) { verdict.className = "verdict wrong"; verdict.textContent = reply.body.error; $("check").disabled = false; return; }
    const v = reply.body;
    this.answered++;
    if (v.correct) this.right++;
    verdict.className = "verdict " + (v.correct ? "right" : "wrong");
    verdict.textContent = v.correct ? "Correct: " + v.expected + "."
      : "Not quite: you answered " + (v.given || "nothing") + "; the answer is " + v.expected + ".";
    $("quiz-explanation").textContent = v.explanation || "";
    $("quiz-explanation").hidden = !v.explanation;
    $("answer").disabled = true;
    $("next-exercise").hidden = false;
    $("score").textContent = "Score: " + this.right + " of " + this.answered;
    $("next-exercise").focus();
  },

  next() {
    this.index++;
    if (this.index >= this.set.length) this.fetchSet(); else this.show();
    $("answer").focus();
  },
};

function initPractice() {
  $("quiz-settings").addEventListener("submit", (e) => { e.preventDefault(); practice.started = true; practice.fetchSet(); });
  $("answer-form").addEventListener("submit", (e) => { e.preventDefault(); practice.check(); });
  $("next-exercise").addEventListener("click", () => practice.next());
}

/* ------------------------------------------------------------------ start */
async function main() {
  const reply = await api("/api/options");
  OPTIONS = reply.body;
  buildForm();
  writeFields(fieldsFromHash() || DEFAULTS);
  initPlayer();
  initTabs();
  initModel();
  initPractice();
  await update();
  document.body.dataset.ready = "true";
}

main();
