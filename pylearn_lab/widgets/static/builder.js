// pylearn_lab graph builder canvas: plain ESM for anywidget (no bundler, no imports).
//
// Python owns the graph and its history. This file draws the synced traits
// (nodes, edges, status, selected, selection, notice, palette) as SVG and reports
// what the user does as messages; Python applies them (or refuses them, with a
// notice shown here):
//   {kind: "move", id, x, y} / {kind: "move_many", moves: [[id, x, y], ...]}
//   {kind: "connect", src, dst, param}   an output port dropped on an input port
//   {kind: "delete", nodes: [...], edges: [...]}   the selection, as one edit
//   {kind: "select", ids}                 click, shift-click, box, arrow keys
//   {kind: "copy" | "duplicate", ids} / {kind: "paste", x, y}
//   {kind: "add", component, x, y}        palette drag, double-click quick add
//   {kind: "undo"} / {kind: "redo"} / {kind: "layout"} / {kind: "code"}
// Python sends {kind: "code", code} back for "To code": a new cell below where
// JupyterLab exposes its app, otherwise the clipboard plus a panel showing it.
// One file on purpose: anywidget loads it from a blob URL, so it cannot import
// siblings; sections below stand in for modules.

const NS = "http://www.w3.org/2000/svg";
const NODE_W = 184; // keep in sync with builder_layout.py
const HEAD_H = 62;
const ROW_H = 20;
const MINIMAP_FROM = 30; // nodes: beyond this many a minimap appears

const STATES = [
  ["idle", "not run"],
  ["in-cache", "in cache: will skip"],
  ["queued", "queued"],
  ["running", "running"],
  ["done", "done"],
  ["cached", "cached"],
  ["failed", "failed"],
  ["stopped", "stopped"],
  ["invalid", "needs input"],
];

// -- small DOM helpers --------------------------------------------------------------
function el_(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function html_(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function clip(text, n) {
  text = text || "";
  return text.length > n ? text.slice(0, n - 1) + "\u2026" : text;
}

function nodeHeight(n) {
  return HEAD_H + Math.max(1, n.inputs.length) * ROW_H + 8;
}

function inPortY(i) {
  return HEAD_H + i * ROW_H + ROW_H / 2;
}

function drawnState(n, st) {
  if (st && st.state) return st.state;
  if (n.problem) return "invalid";
  if (n.blocked) return "blocked";
  return n.cached ? "in-cache" : "idle";
}

function subtitle(n, st, state) {
  const note = st && st.note ? st.note : "";
  switch (state) {
    case "idle": return "not run yet";
    case "in-cache": return "in cache \u00b7 will skip";
    case "invalid": return clip(n.problem, 30);
    case "blocked": return "waits for an upstream fix";
    case "queued": return "queued";
    case "running": return "running\u2026" + (note ? " " + note : "");
    case "done": return "done" + (note ? " \u00b7 " + note : "");
    case "cached": return "cached \u00b7 not recomputed";
    case "failed": return "failed \u00b7 select for the error";
    case "stopped": return "stopped \u00b7 may still finish";
    case "skipped": return "skipped" + (note ? " \u00b7 " + clip(note, 18) : "");
    default: return state;
  }
}

// -- edge geometry: a curve, or a detour through a free channel around nodes ---------
function reach(x1, x2) {  // how far the curve's handles reach: gentle for close ports
  const gap = Math.abs(x2 - x1);
  return x2 > x1 ? Math.max(Math.min(40, gap / 2 + 8), gap / 2) : Math.max(40, gap / 2);
}

function curve(x1, y1, x2, y2) {
  const dx = reach(x1, x2);
  return `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
}

function bezierPoint(x1, y1, x2, y2, t) {
  const dx = reach(x1, x2);
  const px = [x1, x1 + dx, x2 - dx, x2], py = [y1, y1, y2, y2];
  const u = 1 - t;
  const b = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
  return [b[0] * px[0] + b[1] * px[1] + b[2] * px[2] + b[3] * px[3],
          b[0] * py[0] + b[1] * py[1] + b[2] * py[2] + b[3] * py[3]];
}

function inside(p, r, pad) {
  return p[0] > r.x - pad && p[0] < r.x + r.w + pad && p[1] > r.y - pad && p[1] < r.y + r.h + pad;
}

// The path from an output port to an input port that does not run under other nodes:
// the plain curve when it is clear, else a route through a horizontal channel just
// above or below the nodes in the way (whichever is nearer).
function routeEdge(x1, y1, x2, y2, rects, src, dst) {
  if (x2 - x1 < 24 && src && dst) {
    // the input is left of (or just right of) the output: leave right, run through the
    // gap between the two nodes (or under both), come back left and enter from the left
    const ex = x1 + 22, ix = x2 - 22;
    let ch;
    if (dst.y > src.y + src.h + 8) ch = (src.y + src.h + dst.y) / 2;
    else if (src.y > dst.y + dst.h + 8) ch = (dst.y + dst.h + src.y) / 2;
    else ch = Math.max(src.y + src.h, dst.y + dst.h) + 22;
    return `M ${x1} ${y1} L ${ex} ${y1} L ${ex} ${ch} L ${ix} ${ch} L ${ix} ${y2} L ${x2} ${y2}`;
  }
  const hits = [];
  for (const r of rects) {
    for (let i = 1; i < 24; i++) {
      if (inside(bezierPoint(x1, y1, x2, y2, i / 24), r, 6)) { hits.push(r); break; }
    }
  }
  if (!hits.length || x2 - x1 < 90) return curve(x1, y1, x2, y2);  // no room for a detour
  const top = Math.min(...hits.map((r) => r.y)) - 18;
  const bottom = Math.max(...hits.map((r) => r.y + r.h)) + 18;
  const mid = (y1 + y2) / 2;
  const ch = Math.abs(mid - top) <= Math.abs(bottom - mid) ? top : bottom;
  const a = x1 + 36, b = x2 - 36;
  return `M ${x1} ${y1} C ${a} ${y1}, ${x1} ${ch}, ${a} ${ch} L ${b} ${ch} ` +
         `C ${x2} ${ch}, ${b} ${y2}, ${x2} ${y2}`;
}

export default {
  render({ model, el }) {
    el.classList.add("pylearn-builder");
    // JupyterLab: keys typed here are ours (Delete, Ctrl+Z...), not notebook shortcuts.
    el.setAttribute("data-lm-suppress-shortcuts", "true");
    el.setAttribute("role", "application");
    el.setAttribute("aria-label", "graph builder canvas: Tab to a node, arrow keys move " +
      "the selection, Enter edits it, Delete removes it, Ctrl+Z undoes");
    el.tabIndex = 0;
    if (!el.style.height) el.style.height = "520px"; // the widget's layout.height wins
    const root = () => el.closest(".pylearn-graph-builder") || document;

    // -- chrome: toolbar, svg layers, legend, overlays ------------------------------
    const toolbar = html_("div", { class: "pl-toolbar", role: "toolbar",
      "aria-label": "canvas tools" }, el);
    const button = (label, title, testid, onclick) => {
      const b = html_("button", { class: "pl-tool", title, "aria-label": title,
        "data-testid": testid }, toolbar, label);
      b.addEventListener("click", (e) => { e.stopPropagation(); onclick(); });
      return b;
    };
    const svg = el_("svg", { class: "pl-svg", "data-testid": "builder-canvas", role: "group",
      "aria-label": "nodes and edges" }, el);
    const defs = el_("defs", {}, svg);
    const marker = el_("marker", { id: "pl-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el_("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "pl-arrowhead" }, marker);
    const grid = el_("pattern", { id: "pl-grid", width: 24, height: 24,
      patternUnits: "userSpaceOnUse" }, defs);
    el_("circle", { cx: 1, cy: 1, r: 1, class: "pl-grid-dot" }, grid);
    const backdrop = el_("rect", { class: "pl-backdrop", x: -50000, y: -50000,
      width: 100000, height: 100000, fill: "url(#pl-grid)" });
    const viewport = el_("g", { class: "pl-viewport" }, svg);
    viewport.appendChild(backdrop);
    const edgeLayer = el_("g", { class: "pl-edges" }, viewport);
    const nodeLayer = el_("g", { class: "pl-nodes" }, viewport);
    // Edge hit areas sit ABOVE the nodes: a click on an edge selects the edge, never the
    // node it passes under. They stop short of the ports, so ports stay grabbable.
    const edgeHitLayer = el_("g", { class: "pl-edge-hits" }, viewport);
    const ghost = el_("path", { class: "pl-ghost", d: "", "pointer-events": "none" }, viewport);
    const box = el_("rect", { class: "pl-box", "pointer-events": "none", width: 0, height: 0 },
      viewport);
    box.style.display = "none";
    const empty = html_("div", { class: "pl-empty", "data-testid": "empty-hint" }, el,
      "Click or drag a component from the palette (or double-click here to search), then " +
      "drag from a node's output port (right) to another node's input port (left).");
    const legend = html_("div", { class: "pl-legend", "data-testid": "legend" }, el);
    for (const [state, label] of STATES) {
      const item = html_("span", { class: `pl-legend-item state-${state}` }, legend);
      html_("span", { class: "pl-swatch" }, item);
      html_("span", {}, item, label);
    }
    const errorBox = html_("div", { class: "pl-errorbox", "data-testid": "error-panel",
      role: "alert" }, el);
    errorBox.style.display = "none";
    const toast = html_("div", { class: "pl-notice", "data-testid": "notice", role: "status",
      "aria-live": "polite" }, el);
    toast.style.display = "none";
    const quick = html_("div", { class: "pl-quick", "data-testid": "quick-add" }, el);
    quick.style.display = "none";
    const quickInput = html_("input", { class: "pl-quick-input", "data-testid": "quick-add-input",
      placeholder: "add a component\u2026", "aria-label": "search components to add" }, quick);
    const quickList = html_("div", { class: "pl-quick-list", role: "listbox" }, quick);
    const codeBox = html_("div", { class: "pl-codebox", "data-testid": "code-panel" }, el);
    codeBox.style.display = "none";
    const minimap = el_("svg", { class: "pl-minimap", "data-testid": "minimap",
      "aria-label": "minimap: click to move the view" }, el);
    minimap.style.display = "none";
    const dragLabel = html_("div", { class: "pl-drag-label" }, document.body);
    dragLabel.style.display = "none";

    // -- state -------------------------------------------------------------------------
    let view = { x: 20, y: 20, k: 1 };
    let localPos = {}; // node id -> [x, y] while a drag is not yet confirmed by Python
    let localSel = null; // optimistic selection until Python echoes it
    let selectedEdge = null;
    let drag = null;
    let errorClosedFor = null;
    let focusAfterDraw = null;
    let lastPointer = null; // world coordinates of the last pointer position (paste spot)
    let quickAt = [0, 0];
    let quickItems = [];
    let quickIndex = 0;

    const nodes = () => model.get("nodes") || [];
    const byId = () => Object.fromEntries(nodes().map((n) => [n.id, n]));
    const pos = (n) => localPos[n.id] || [n.x, n.y];
    const selection = () => localSel || model.get("selection") || [];
    const isSelected = (id) => selection().includes(id);

    function applyView() {
      viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
      drawMinimap();
    }

    function toWorld(ev) {
      const r = svg.getBoundingClientRect();
      return [(ev.clientX - r.left - view.x) / view.k, (ev.clientY - r.top - view.y) / view.k];
    }

    function select(ids) {
      selectedEdge = null;
      errorClosedFor = null;
      localSel = ids;
      model.send({ kind: "select", ids });
      draw();
    }

    function fit(tries = 0) {
      const w = svg.clientWidth, h = svg.clientHeight;
      if ((!w || !h) && tries < 40) {
        requestAnimationFrame(() => fit(tries + 1));
        return;
      }
      const ns = nodes();
      if (!ns.length) { view = { x: 20, y: 20, k: 1 }; applyView(); return; }
      const [x0, y0, x1, y1] = bounds(ns);
      // keep clear of the toolbar (top) and the legend (bottom)
      const padX = 30, top = 52, bottom = 44;
      const whole = Math.min(1.15, (w - 2 * padX) / (x1 - x0), (h - top - bottom) / (y1 - y0));
      // A big graph is not shrunk past legibility: it opens at a readable zoom, centred,
      // and the minimap shows (and moves to) the rest.
      const floor = ns.length > MINIMAP_FROM ? 0.55 : 0.15;
      const k = Math.max(floor, whole);
      view = { k, x: (w - k * (x1 + x0)) / 2,
               y: top + (h - top - bottom - k * (y1 - y0)) / 2 - k * y0 };
      applyView();
    }

    function bounds(ns) {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const n of ns) {
        const [x, y] = pos(n);
        x0 = Math.min(x0, x); y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + NODE_W); y1 = Math.max(y1, y + nodeHeight(n));
      }
      return [x0, y0, x1, y1];
    }

    function zoomAt(factor, cx, cy) {
      const k = Math.min(3, Math.max(0.15, view.k * factor));
      view.x = cx - ((cx - view.x) * k) / view.k;
      view.y = cy - ((cy - view.y) * k) / view.k;
      view.k = k;
      applyView();
    }

    function deleteSelected() {
      const ns = selection();
      if (!selectedEdge && !ns.length) return;
      model.send({ kind: "delete", nodes: selectedEdge ? [] : ns,
        edges: selectedEdge ? [selectedEdge] : [] });
      selectedEdge = null;
    }

    function pasteSpot() {
      if (lastPointer) return lastPointer;
      return [(svg.clientWidth / 2 - view.x) / view.k, (svg.clientHeight / 2 - view.y) / view.k];
    }

    button("\u21b6", "undo (Ctrl/Cmd+Z)", "undo", () => model.send({ kind: "undo" }));
    button("\u21b7", "redo (Shift+Ctrl/Cmd+Z)", "redo", () => model.send({ kind: "redo" }));
    button("+", "zoom in (Ctrl+wheel)", "zoom-in", () => zoomAt(1.2, svg.clientWidth / 2, svg.clientHeight / 2));
    button("\u2212", "zoom out (Ctrl+wheel)", "zoom-out", () => zoomAt(1 / 1.2, svg.clientWidth / 2, svg.clientHeight / 2));
    button("Fit", "fit the graph in view", "fit", () => fit());
    button("Layout", "arrange nodes automatically", "auto-layout", () => model.send({ kind: "layout" }));
    button("Duplicate", "duplicate the selection (Ctrl/Cmd+D)", "duplicate",
      () => model.send({ kind: "duplicate", ids: selection() }));
    button("Delete", "delete the selected nodes or edge (Delete key)", "delete-selected", deleteSelected);

    // -- drawing -------------------------------------------------------------------------
    function drawEdges(index) {
      edgeLayer.replaceChildren();
      edgeHitLayer.replaceChildren();
      const sel = new Set(selection());
      const rects = nodes().map((n) => {
        const [x, y] = pos(n);
        return { id: n.id, x, y, w: NODE_W, h: nodeHeight(n) };
      });
      for (const e of model.get("edges") || []) {
        const a = index[e.src], b = index[e.dst];
        if (!a || !b) continue;
        const [ax, ay] = pos(a), [bx, by] = pos(b);
        const slot = Math.max(0, b.inputs.indexOf(e.param));
        const x1 = ax + NODE_W + 7, y1 = ay + HEAD_H / 2, x2 = bx - 7, y2 = by + inPortY(slot);
        const others = rects.filter((r) => r.id !== e.src && r.id !== e.dst);
        const srcR = rects.find((r) => r.id === e.src), dstR = rects.find((r) => r.id === e.dst);
        // end at the port's rim so the arrowhead touches the port instead of covering it
        const d = routeEdge(x1, y1, x2, y2, others, srcR, dstR);
        const hot = e.id === selectedEdge ? " selected" : (sel.has(e.src) || sel.has(e.dst) ? " near" : "");
        const g = el_("g", { class: "pl-edge" + hot, "data-edge-id": e.id }, edgeLayer);
        el_("path", { d, class: "pl-edge-line", "marker-end": "url(#pl-arrow)" }, g);
        const hit = el_("g", { class: "pl-edge pl-edge-hitg" + hot, "data-edge-id": e.id,
          "data-testid": `edge-${e.src}-${e.dst}-${e.param}`,
          "aria-label": `edge ${a.label} (${e.src}) to ${b.label} (${e.dst}).${e.param}` }, edgeHitLayer);
        el_("title", {}, hit, `${a.label} (${e.src}) \u2192 ${b.label} (${e.dst}).${e.param}`);
        // the same route; where it meets a port, pick() gives the port priority
        el_("path", { d, class: "pl-edge-hit" }, hit);
      }
    }

    function drawNode(n, st, primary, connected) {
      const state = drawnState(n, st);
      const [x, y] = pos(n);
      const h = nodeHeight(n);
      const chosen = isSelected(n.id);
      const g = el_("g", {
        class: `pl-node state-${state}` + (chosen ? " selected" : "") + (n.id === primary ? " primary" : ""),
        transform: `translate(${x},${y})`, "data-testid": `node-${n.id}`,
        "data-node-id": n.id, "data-status": state, "data-label": n.label, tabindex: 0,
        role: "button", "aria-pressed": chosen ? "true" : "false",
        "aria-label": `${n.label} (${n.id}), ${subtitle(n, st, state)}` +
          (n.values ? `, ${n.values}` : "") + ". Enter edits its parameters.",
      }, nodeLayer);
      const tip = [n.call || `${n.label} (${n.id})`, n.key ? `key ${n.key}\u2026` : "",
        n.problem, st && st.error ? st.error : ""].filter(Boolean).join("\n");
      el_("title", {}, g, tip);
      el_("rect", { class: "pl-body", width: NODE_W, height: h, rx: 9 }, g);
      el_("rect", { class: "pl-band", width: 6, height: h - 18, x: 0, y: 9, rx: 3,
        fill: n.colour }, g);
      el_("text", { class: "pl-title", x: 16, y: 19, "pointer-events": "none" }, g, clip(n.label, 21));
      el_("text", { class: "pl-values", x: 16, y: 35, "pointer-events": "none",
        "data-testid": `values-${n.id}` }, g, clip(n.values || "", 29));
      el_("text", { class: "pl-id", x: NODE_W - 10, y: h - 8, "text-anchor": "end",
        "pointer-events": "none" }, g, n.id);
      el_("text", { class: "pl-sub", x: 16, y: 52, "pointer-events": "none",
        "data-testid": `status-${n.id}` }, g, subtitle(n, st, state));
      el_("line", { class: "pl-divider", x1: 10, x2: NODE_W - 10, y1: HEAD_H - 2, y2: HEAD_H - 2 }, g);
      n.inputs.forEach((name, i) => {
        const cy = inPortY(i);
        const linked = connected.has(`${n.id}.${name}`);
        const req = (n.required || []).includes(name) && !linked;
        el_("circle", { class: "pl-port pl-in" + (linked ? " linked" : "") + (req ? " required" : ""),
          cx: 0, cy, r: 6, "pointer-events": "none" }, g);
        el_("circle", { class: "pl-port-hit", cx: 0, cy, r: 12, "data-port-in": name,
          "data-node": n.id, "data-testid": `port-in-${n.id}-${name}` }, g);
        el_("text", { class: "pl-port-label" + (req ? " required" : ""), x: 14, y: cy + 4,
          "pointer-events": "none" }, g, name + (req ? " *" : ""));
      });
      if (!n.inputs.length) {
        el_("text", { class: "pl-port-label none", x: 14, y: inPortY(0) + 4,
          "pointer-events": "none" }, g, "no inputs");
      }
      el_("circle", { class: "pl-port pl-out", cx: NODE_W, cy: HEAD_H / 2, r: 7,
        "pointer-events": "none" }, g);
      el_("circle", { class: "pl-port-hit", cx: NODE_W, cy: HEAD_H / 2, r: 13,
        "data-port-out": "1", "data-node": n.id, "data-testid": `port-out-${n.id}` }, g);
    }

    function drawError(index) {
      const id = model.get("selected");
      const n = index[id];
      const st = (model.get("status") || {})[id];
      const failed = n && st && st.state === "failed";
      const text = failed ? st.error.split("\n--- traceback where it ran ---")[0]
        : n && n.problem ? n.problem : "";
      if (!text || errorClosedFor === id) { errorBox.style.display = "none"; return; }
      errorBox.replaceChildren();
      // a problem is a short note that never blocks the canvas; a failure is a panel to read
      errorBox.classList.toggle("problem", !failed);
      const where = failed && st.where ? ` on ${st.where}` : "";
      const head = html_("div", { class: "pl-errorhead" }, errorBox,
        failed ? `${n.label} (${id}) failed${where}` : `${n.label} (${id}) cannot run`);
      const close = html_("button", { class: "pl-tool", title: "close", "aria-label": "close" }, head, "\u00d7");
      close.addEventListener("click", (e) => { e.stopPropagation(); errorClosedFor = id; draw(); });
      html_("pre", { "data-testid": "error-text" }, errorBox, text);
      if (failed && st.traceback) {
        const details = html_("details", { class: "pl-traceback", "data-testid": "traceback" }, errorBox);
        html_("summary", {}, details, "traceback");
        html_("pre", {}, details, st.traceback);
      }
      errorBox.style.display = "block";
    }

    function drawMinimap() {
      const ns = nodes();
      if (ns.length <= MINIMAP_FROM) { minimap.style.display = "none"; return; }
      minimap.style.display = "block";
      const [x0, y0, x1, y1] = bounds(ns);
      const pad = 40;
      minimap.setAttribute("viewBox", `${x0 - pad} ${y0 - pad} ${x1 - x0 + 2 * pad} ${y1 - y0 + 2 * pad}`);
      minimap.replaceChildren();
      const status = model.get("status") || {};
      for (const n of ns) {
        const [x, y] = pos(n);
        el_("rect", { x, y, width: NODE_W, height: nodeHeight(n), rx: 10,
          class: `pl-mini-node state-${drawnState(n, status[n.id])}` + (isSelected(n.id) ? " selected" : "") }, minimap);
      }
      const w = svg.clientWidth / view.k, h = svg.clientHeight / view.k;
      el_("rect", { class: "pl-mini-view", x: -view.x / view.k, y: -view.y / view.k, width: w, height: h }, minimap);
    }

    function draw() {
      const index = byId();
      const status = model.get("status") || {};
      const primary = model.get("selected");
      const connected = new Set((model.get("edges") || []).map((e) => `${e.dst}.${e.param}`));
      const focused = document.activeElement && document.activeElement.closest &&
        document.activeElement.closest(".pl-node");
      const keep = focusAfterDraw || (focused && nodeLayer.contains(focused) ?
        focused.getAttribute("data-node-id") : null);
      focusAfterDraw = null;
      drawEdges(index);
      nodeLayer.replaceChildren();
      for (const n of nodes()) drawNode(n, status[n.id], primary, connected);
      empty.style.display = nodes().length ? "none" : "block";
      drawError(index);
      drawMinimap();
      if (keep) {
        const g = nodeLayer.querySelector(`[data-node-id="${keep}"]`);
        if (g) g.focus({ preventScroll: true });
      }
    }

    function showNotice() {
      const note = model.get("notice") || {};
      if (!note.text) return;
      toast.textContent = note.text;
      toast.classList.toggle("error", !!note.error);
      toast.style.display = "block";
      clearTimeout(showNotice.timer);
      showNotice.timer = setTimeout(() => { toast.style.display = "none"; }, 8000);
    }

    // -- pointer interaction: one listener on the svg, moves/ups on the window --------
    // What lies under the pointer, by priority: ports, then edges (drawn above nodes so a
    // click on an edge never selects the node under it), then nodes.
    function pick(ev) {
      const stack = document.elementsFromPoint(ev.clientX, ev.clientY).filter((e) => svg.contains(e));
      const find = (sel) => { for (const e of stack) { const m = e.closest(sel); if (m && svg.contains(m)) return m; } return null; };
      return { out: find("[data-port-out]"), port: find("[data-port-in]"), edge: find(".pl-edge"), node: find(".pl-node") };
    }

    function onDown(ev) {
      if (ev.button !== 0) return;
      closeQuick();
      const under = pick(ev);
      const out = under.out;
      const nodeG = under.port ? under.port.closest(".pl-node") : under.node;
      const edgeG = under.port ? null : under.edge;
      const [wx, wy] = toWorld(ev);
      ev.preventDefault();
      if (out) {
        drag = { type: "connect", src: out.getAttribute("data-node") };
      } else if (edgeG) {
        selectedEdge = edgeG.getAttribute("data-edge-id");
        localSel = [];
        model.send({ kind: "select", ids: [] });
        drag = null;
        draw();
        el.focus({ preventScroll: true });
      } else if (nodeG) {
        const id = nodeG.getAttribute("data-node-id");
        const n = byId()[id];
        if (ev.shiftKey || ev.metaKey || ev.ctrlKey) {
          const cur = selection();
          select(cur.includes(id) ? cur.filter((k) => k !== id) : [id, ...cur]);
          drag = null;
          return;
        }
        const group = isSelected(id) ? selection() : [id];
        const start = {};
        for (const k of group) { const m = byId()[k]; if (m) start[k] = pos(m); }
        drag = { type: "move", id, sx: wx, sy: wy, start, moved: false };
        if (!isSelected(id) || selection()[0] !== id) {
          select([id, ...group.filter((k) => k !== id)]);
        }
        focusAfterDraw = id;
        draw();
      } else if (ev.shiftKey) {
        drag = { type: "box", x0: wx, y0: wy };
        box.style.display = "block";
      } else {
        el.focus({ preventScroll: true });
        drag = { type: "pan", sx: ev.clientX, sy: ev.clientY, vx: view.x, vy: view.y, moved: false };
      }
    }

    function onMove(ev) {
      if (el.isConnected && svg.getBoundingClientRect().width) {
        const r = svg.getBoundingClientRect();
        if (ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom) {
          lastPointer = toWorld(ev);
        }
      }
      if (!drag) return;
      if (drag.type === "connect") {
        const n = byId()[drag.src];
        if (!n) return;
        const [x, y] = pos(n);
        const [wx, wy] = toWorld(ev);
        ghost.setAttribute("d", curve(x + NODE_W, y + HEAD_H / 2, wx, wy));
      } else if (drag.type === "move") {
        const [wx, wy] = toWorld(ev);
        for (const [k, [x, y]] of Object.entries(drag.start)) {
          localPos[k] = [Math.round(x + wx - drag.sx), Math.round(y + wy - drag.sy)];
        }
        drag.moved = true;
        draw();
      } else if (drag.type === "box") {
        const [wx, wy] = toWorld(ev);
        box.setAttribute("x", Math.min(wx, drag.x0));
        box.setAttribute("y", Math.min(wy, drag.y0));
        box.setAttribute("width", Math.abs(wx - drag.x0));
        box.setAttribute("height", Math.abs(wy - drag.y0));
        drag.x1 = wx; drag.y1 = wy;
      } else if (drag.type === "pan") {
        view.x = drag.vx + ev.clientX - drag.sx;
        view.y = drag.vy + ev.clientY - drag.sy;
        drag.moved = drag.moved || Math.abs(ev.clientX - drag.sx) + Math.abs(ev.clientY - drag.sy) > 3;
        applyView();
      }
    }

    function onUp(ev) {
      const d = drag;
      drag = null;
      if (!d) return;
      if (d.type === "connect") {
        ghost.setAttribute("d", "");
        const under = pick(ev);
        const port = under.port;
        const nodeG = under.node;
        let dst = null, param = null;
        if (port) {
          dst = port.getAttribute("data-node");
          param = port.getAttribute("data-port-in");
        } else if (nodeG) { // dropped on a node's body: its first free input
          dst = nodeG.getAttribute("data-node-id");
          const n = byId()[dst];
          const taken = new Set((model.get("edges") || []).filter((e) => e.dst === dst).map((e) => e.param));
          param = n ? (n.inputs.find((p) => !taken.has(p)) || null) : null;
          if (n && !param && dst !== d.src) {
            localNotice(n.inputs.length ? `every input of ${n.label} (${dst}) is connected: ` +
              "drop on a port to see why, or delete an edge first"
              : `${n.label} (${dst}) has no input: turn a parameter into a port in the inspector`);
          }
        }
        if (dst && param && dst !== d.src) model.send({ kind: "connect", src: d.src, dst, param });
      } else if (d.type === "move" && d.moved) {
        const moves = Object.keys(d.start).filter((k) => localPos[k]).map((k) => [k, ...localPos[k]]);
        if (moves.length === 1) model.send({ kind: "move", id: moves[0][0], x: moves[0][1], y: moves[0][2] });
        else if (moves.length) model.send({ kind: "move_many", moves });
      } else if (d.type === "box") {
        box.style.display = "none";
        if (d.x1 !== undefined) {
          const x0 = Math.min(d.x0, d.x1), x1 = Math.max(d.x0, d.x1);
          const y0 = Math.min(d.y0, d.y1), y1 = Math.max(d.y0, d.y1);
          const picked = nodes().filter((n) => {
            const [x, y] = pos(n);
            return x < x1 && x + NODE_W > x0 && y < y1 && y + nodeHeight(n) > y0;
          }).map((n) => n.id);
          select([...new Set([...picked, ...selection()])]);
        }
      } else if (d.type === "pan" && !d.moved) {
        selectedEdge = null;
        select([]);
      }
    }

    function localNotice(text) {
      toast.textContent = text;
      toast.classList.add("error");
      toast.style.display = "block";
    }

    // Ctrl/Cmd+wheel (and pinch, which browsers report as Ctrl+wheel) zooms; the plain
    // wheel is left to the page, so the notebook scrolls past the canvas.
    function onWheel(ev) {
      if (!(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }

    function neighbour(id, key) {
      const ns = nodes();
      const cur = byId()[id];
      if (!cur) return ns.length ? ns[0].id : null;
      const [cx, cy] = pos(cur);
      const dir = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[key];
      let best = null, bestScore = Infinity;
      for (const n of ns) {
        if (n.id === id) continue;
        const [x, y] = pos(n);
        const dx = x - cx, dy = y - cy;
        const along = dx * dir[0] + dy * dir[1];
        if (along <= 0) continue;
        const across = Math.abs(dx * dir[1]) + Math.abs(dy * dir[0]);
        const score = along + 2 * across;
        if (score < bestScore) { bestScore = score; best = n.id; }
      }
      return best;
    }

    function openInspector(id) {
      if (selection()[0] !== id) select([id]);
      // the inspector is rebuilt by Python after the selection arrives: focus its first field
      let tries = 0;
      const focusField = () => {
        const side = root().querySelector(".pylearn-inspector");
        const title = side && side.querySelector(".widget-html-content b");
        const field = side && side.querySelector("input, select, textarea");
        if (field && title && title.textContent.includes(`(${id})`)) field.focus();
        else if (tries++ < 40) setTimeout(focusField, 50);
      };
      focusField();
    }

    function onKey(ev) {
      if (ev.target && ev.target.closest && ev.target.closest(".pl-quick, .pl-codebox")) return;
      const mod = ev.ctrlKey || ev.metaKey;
      const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
      const focusedNode = ev.target && ev.target.closest && ev.target.closest(".pl-node");
      const handled = () => { ev.preventDefault(); ev.stopPropagation(); };
      if (mod && key === "z") {
        handled();
        model.send({ kind: ev.shiftKey ? "redo" : "undo" });
      } else if (mod && key === "y") {
        handled();
        model.send({ kind: "redo" });
      } else if (mod && key === "c") {
        handled();
        if (selection().length) model.send({ kind: "copy", ids: selection() });
      } else if (mod && key === "v") {
        handled();
        const [x, y] = pasteSpot();
        model.send({ kind: "paste", x, y });
      } else if (mod && key === "d") {
        handled();
        model.send({ kind: "duplicate", ids: selection() });
      } else if (mod && key === "a") {
        handled();
        select(nodes().map((n) => n.id));
      } else if (ev.key === "Delete" || ev.key === "Backspace") {
        handled();
        deleteSelected();
      } else if (ev.key === "Escape") {
        ev.stopPropagation();
        select([]);
        el.focus({ preventScroll: true });
      } else if (ev.key.startsWith("Arrow")) {
        handled();
        const from = (focusedNode && focusedNode.getAttribute("data-node-id")) || selection()[0];
        const next = neighbour(from, ev.key);
        if (next) { focusAfterDraw = next; select([next]); }
      } else if (ev.key === "Enter" || ev.key === " ") {
        const id = (focusedNode && focusedNode.getAttribute("data-node-id")) || selection()[0];
        if (id) { handled(); openInspector(id); }
      }
    }

    // -- quick add (double-click on the canvas) -------------------------------------------
    function rankedPalette(text) {
      const words = text.toLowerCase().split(/\s+/).filter(Boolean);
      const all = model.get("palette") || [];
      const match = (c, withSummary) => {
        const hay = (c.name + " " + c.category + (withSummary ? " " + c.summary : "")).toLowerCase();
        return words.every((w) => hay.includes(w));
      };
      let found = all.filter((c) => match(c, false));
      if (!found.length && words.length) found = all.filter((c) => match(c, true));
      return found.slice(0, 12);
    }

    function renderQuick() {
      quickItems = rankedPalette(quickInput.value);
      quickIndex = Math.min(quickIndex, Math.max(0, quickItems.length - 1));
      quickList.replaceChildren();
      quickItems.forEach((c, i) => {
        const item = html_("div", { class: "pl-quick-item" + (i === quickIndex ? " active" : ""),
          role: "option", "data-qualname": c.qualname, "aria-selected": i === quickIndex ? "true" : "false" }, quickList);
        html_("b", {}, item, c.name);
        html_("span", { class: "pl-quick-cat" }, item, " " + c.category + " \u00b7 " + clip(c.summary, 48));
        item.addEventListener("pointerdown", (e) => { e.preventDefault(); e.stopPropagation(); addQuick(i); });
      });
      if (!quickItems.length) html_("div", { class: "pl-quick-none" }, quickList, "no component matches");
    }

    function openQuick(ev) {
      quickAt = toWorld(ev);
      const r = el.getBoundingClientRect();
      quick.style.left = `${Math.min(ev.clientX - r.left, r.width - 300)}px`;
      quick.style.top = `${Math.min(ev.clientY - r.top, r.height - 260)}px`;
      quick.style.display = "block";
      quickInput.value = "";
      quickIndex = 0;
      renderQuick();
      quickInput.focus();
    }

    function closeQuick() {
      if (quick.style.display !== "none") quick.style.display = "none";
    }

    function addQuick(i) {
      const c = quickItems[i];
      closeQuick();
      if (c) model.send({ kind: "add", component: c.qualname, x: Math.round(quickAt[0]), y: Math.round(quickAt[1]) });
      el.focus({ preventScroll: true });
    }

    quickInput.addEventListener("input", () => { quickIndex = 0; renderQuick(); });
    quickInput.addEventListener("keydown", (ev) => {
      ev.stopPropagation();
      if (ev.key === "ArrowDown") { ev.preventDefault(); quickIndex = Math.min(quickIndex + 1, quickItems.length - 1); renderQuick(); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); quickIndex = Math.max(0, quickIndex - 1); renderQuick(); }
      else if (ev.key === "Enter") { ev.preventDefault(); addQuick(quickIndex); }
      else if (ev.key === "Escape") { ev.preventDefault(); closeQuick(); el.focus({ preventScroll: true }); }
    });

    function onDouble(ev) {
      const t = ev.target;
      if (t.closest && (t.closest(".pl-node") || t.closest(".pl-edge"))) return;
      ev.preventDefault();
      openQuick(ev);
    }

    // -- drag from the palette (the ipywidgets list beside the canvas) ---------------------
    function paletteEntry(button) {
      const cls = [...button.classList].find((c) => c.startsWith("pylearn-palette-") &&
        c !== "pylearn-palette-item");
      if (!cls) return null;
      const name = cls.slice("pylearn-palette-".length);
      return (model.get("palette") || []).find((c) => c.name.replace(/[^\w-]/g, "_") === name) || null;
    }

    let paletteDrag = null;
    function onDocDown(ev) {
      if (ev.button !== 0) return;
      const b = ev.target.closest && ev.target.closest(".pylearn-palette-item");
      if (!b || !root().contains(b) || root() === document) return;
      const entry = paletteEntry(b);
      if (entry) paletteDrag = { entry, sx: ev.clientX, sy: ev.clientY, moved: false };
    }
    function onDocMove(ev) {
      if (!paletteDrag) return;
      if (!paletteDrag.moved && Math.abs(ev.clientX - paletteDrag.sx) + Math.abs(ev.clientY - paletteDrag.sy) < 6) return;
      paletteDrag.moved = true;
      dragLabel.textContent = "+ " + paletteDrag.entry.name;
      dragLabel.style.display = "block";
      dragLabel.style.left = `${ev.clientX + 12}px`;
      dragLabel.style.top = `${ev.clientY + 8}px`;
    }
    function onDocUp(ev) {
      const d = paletteDrag;
      paletteDrag = null;
      dragLabel.style.display = "none";
      if (!d || !d.moved) return;
      const r = svg.getBoundingClientRect();
      if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) return;
      const [wx, wy] = toWorld(ev);
      model.send({ kind: "add", component: d.entry.qualname, x: Math.round(wx - NODE_W / 2), y: Math.round(wy - 20) });
    }

    // -- code from Python: a new cell below, else the clipboard ------------------------
    function showCode(code, how) {
      codeBox.replaceChildren();
      const head = html_("div", { class: "pl-errorhead" }, codeBox, how);
      const close = html_("button", { class: "pl-tool", title: "close", "aria-label": "close" }, head, "\u00d7");
      close.addEventListener("click", (e) => { e.stopPropagation(); codeBox.style.display = "none"; });
      const area = html_("textarea", { class: "pl-code", readonly: "true", "data-testid": "code-text",
        "aria-label": "the graph as Python code" }, codeBox);
      area.value = code;
      codeBox.style.display = "block";
      area.select();
    }

    function insertCell(code) {
      const app = window.jupyterapp;
      const panel = app && app.shell && app.shell.currentWidget;
      const nb = panel && panel.content;
      if (!nb || !app.commands || !nb.widgets) return Promise.resolve(false);
      // the cell holding this canvas becomes active, so the new cell goes right below it
      const index = nb.widgets.findIndex((c) => c.node.contains(el));
      if (index >= 0) nb.activeCellIndex = index;
      return app.commands.execute("notebook:insert-cell-below").then(() => {
        const cell = nb.activeCell;
        if (!cell || !cell.model || !cell.model.sharedModel) return false;
        cell.model.sharedModel.setSource(code);
        return true;
      }, () => false);
    }

    function onCustom(msg) {
      if (!msg || msg.kind !== "code") return;
      insertCell(msg.code).then((ok) => {
        if (ok) { localNoticeOk("the code of the graph is in a new cell below"); return; }
        const copied = navigator.clipboard && window.isSecureContext
          ? navigator.clipboard.writeText(msg.code).then(() => true, () => false) : Promise.resolve(false);
        copied.then((c) => showCode(msg.code, c ? "Copied to the clipboard: paste it in a cell"
          : "The graph as code (select and copy it)"));
      });
    }

    function localNoticeOk(text) {
      toast.textContent = text;
      toast.classList.remove("error");
      toast.style.display = "block";
      clearTimeout(showNotice.timer);
      showNotice.timer = setTimeout(() => { toast.style.display = "none"; }, 6000);
    }

    minimap.addEventListener("pointerdown", (ev) => {
      ev.stopPropagation();
      const pt = minimap.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      const p = pt.matrixTransform(minimap.getScreenCTM().inverse());
      view.x = svg.clientWidth / 2 - p.x * view.k;
      view.y = svg.clientHeight / 2 - p.y * view.k;
      applyView();
    });

    svg.addEventListener("pointerdown", onDown);
    svg.addEventListener("dblclick", onDouble);
    svg.addEventListener("wheel", onWheel, { passive: false });
    el.addEventListener("keydown", onKey);
    window.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);
    document.addEventListener("pointerdown", onDocDown, true);
    document.addEventListener("pointermove", onDocMove, true);
    document.addEventListener("pointerup", onDocUp, true);
    model.on("msg:custom", onCustom);

    // Re-fit when the canvas changes size (a side panel opens, the window narrows).
    let lastSize = [0, 0];
    const resize = new ResizeObserver(() => {
      const size = [svg.clientWidth, svg.clientHeight];
      if (size[0] && size[1] && (Math.abs(size[0] - lastSize[0]) > 2 || Math.abs(size[1] - lastSize[1]) > 2)) {
        lastSize = size;
        fit();
      }
    });
    resize.observe(el);

    // A node added outside the visible area: fit the view so the user sees what was added.
    let known = new Set(nodes().map((n) => n.id));
    function outOfView(n) {
      const [x, y] = pos(n);
      const w = svg.clientWidth, h = svg.clientHeight - 30;
      const sx = x * view.k + view.x, sy = y * view.k + view.y;
      return sx < 0 || sy < 0 || sx + NODE_W * view.k > w || sy + nodeHeight(n) * view.k > h;
    }
    const onNodes = () => {
      localPos = {};
      const fresh = nodes().filter((n) => !known.has(n.id));
      known = new Set(nodes().map((n) => n.id));
      draw();
      if (fresh.some(outOfView)) fit();
    };
    const onSelection = () => { localSel = null; draw(); };
    model.on("change:nodes", onNodes);
    model.on("change:edges", draw);
    model.on("change:status", draw);
    model.on("change:selected", draw);
    model.on("change:selection", onSelection);
    model.on("change:notice", showNotice);
    const onFit = () => fit();
    model.on("change:fit", onFit);

    applyView();
    draw();
    fit();

    return () => {
      window.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
      document.removeEventListener("pointerdown", onDocDown, true);
      document.removeEventListener("pointermove", onDocMove, true);
      document.removeEventListener("pointerup", onDocUp, true);
      resize.disconnect();
      dragLabel.remove();
      model.off("msg:custom", onCustom);
      model.off("change:nodes", onNodes);
      model.off("change:edges", draw);
      model.off("change:status", draw);
      model.off("change:selected", draw);
      model.off("change:selection", onSelection);
      model.off("change:notice", showNotice);
      model.off("change:fit", onFit);
    };
  },
};
