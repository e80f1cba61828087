// pylearn_lab graph builder canvas: plain ESM for anywidget (no bundler, no imports).
//
// Python owns the graph. This file only draws the synced traits (nodes, edges,
// status, selected) as SVG and reports what the user does as messages:
//   {kind: "move", id, x, y}          a node was dragged
//   {kind: "connect", src, dst, param} an output port was dragged onto an input port
//   {kind: "delete_node", id} / {kind: "delete_edge", id}
//   {kind: "layout"}                   the auto-layout button
// The selection is a trait: model.set("selected", id) + save_changes().

const NS = "http://www.w3.org/2000/svg";
const NODE_W = 184; // keep in sync with builder_layout.py
const HEAD_H = 46;
const ROW_H = 20;

const STATES = [
  ["idle", "not run"],
  ["in-cache", "in cache: will skip"],
  ["queued", "queued"],
  ["running", "running"],
  ["done", "done"],
  ["cached", "cached"],
  ["failed", "failed"],
  ["invalid", "needs input"],
];

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
    case "failed": return "failed \u00b7 click for the error";
    case "skipped": return "skipped" + (note ? " \u00b7 " + clip(note, 18) : "");
    default: return state;
  }
}

function edgePath(x1, y1, x2, y2) {
  const dx = Math.max(40, Math.abs(x2 - x1) / 2);
  return `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
}

export default {
  render({ model, el }) {
    el.classList.add("pylearn-builder");
    // JupyterLab: keys typed here are ours (Delete), not notebook shortcuts.
    el.setAttribute("data-lm-suppress-shortcuts", "true");
    el.tabIndex = 0;
    if (!el.style.height) el.style.height = "520px"; // the widget's layout.height wins

    const toolbar = html_("div", { class: "pl-toolbar" }, el);
    const button = (label, title, testid, onclick) => {
      const b = html_("button", { class: "pl-tool", title, "data-testid": testid }, toolbar, label);
      b.addEventListener("click", (e) => { e.stopPropagation(); onclick(); });
      return b;
    };
    const svg = el_("svg", { class: "pl-svg", "data-testid": "builder-canvas" }, el);
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
    const ghost = el_("path", { class: "pl-ghost", d: "", "pointer-events": "none" }, viewport);
    const empty = html_("div", { class: "pl-empty", "data-testid": "empty-hint" }, el,
      "Click a component in the palette to add a node, then drag from a node's output " +
      "port (right) to another node's input port (left).");
    const legend = html_("div", { class: "pl-legend", "data-testid": "legend" }, el);
    for (const [state, label] of STATES) {
      const item = html_("span", { class: `pl-legend-item state-${state}` }, legend);
      html_("span", { class: "pl-swatch" }, item);
      html_("span", {}, item, label);
    }
    const errorBox = html_("div", { class: "pl-errorbox", "data-testid": "error-panel" }, el);
    errorBox.style.display = "none";

    let view = { x: 20, y: 20, k: 1 };
    let localPos = {}; // node id -> [x, y] while a drag is not yet confirmed by Python
    let selectedEdge = null;
    let drag = null;
    let errorClosedFor = null;

    const nodes = () => model.get("nodes") || [];
    const byId = () => Object.fromEntries(nodes().map((n) => [n.id, n]));
    const pos = (n) => localPos[n.id] || [n.x, n.y];

    function applyView() {
      viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    }

    function toWorld(ev) {
      const r = svg.getBoundingClientRect();
      return [(ev.clientX - r.left - view.x) / view.k, (ev.clientY - r.top - view.y) / view.k];
    }

    function select(id) {
      selectedEdge = null;
      errorClosedFor = null;
      if (model.get("selected") !== id) {
        model.set("selected", id);
        model.save_changes();
      }
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
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const n of ns) {
        const [x, y] = pos(n);
        x0 = Math.min(x0, x); y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + NODE_W); y1 = Math.max(y1, y + nodeHeight(n));
      }
      // keep clear of the toolbar (top) and the legend (bottom)
      const padX = 30, top = 52, bottom = 44;
      const k = Math.min(1.15, (w - 2 * padX) / (x1 - x0), (h - top - bottom) / (y1 - y0));
      view = { k, x: (w - k * (x1 + x0)) / 2,
               y: top + (h - top - bottom - k * (y1 - y0)) / 2 - k * y0 };
      applyView();
    }

    function zoomAt(factor, cx, cy) {
      const k = Math.min(3, Math.max(0.15, view.k * factor));
      view.x = cx - ((cx - view.x) * k) / view.k;
      view.y = cy - ((cy - view.y) * k) / view.k;
      view.k = k;
      applyView();
    }

    function deleteSelected() {
      if (selectedEdge) {
        model.send({ kind: "delete_edge", id: selectedEdge });
        selectedEdge = null;
      } else if (model.get("selected")) {
        model.send({ kind: "delete_node", id: model.get("selected") });
      }
    }

    button("+", "zoom in", "zoom-in", () => zoomAt(1.2, svg.clientWidth / 2, svg.clientHeight / 2));
    button("\u2212", "zoom out", "zoom-out", () => zoomAt(1 / 1.2, svg.clientWidth / 2, svg.clientHeight / 2));
    button("Fit", "fit the graph in view", "fit", () => fit());
    button("Layout", "arrange nodes automatically", "auto-layout", () => model.send({ kind: "layout" }));
    button("Delete", "delete the selected node or edge (Delete key)", "delete-selected", deleteSelected);

    function drawEdges(index) {
      edgeLayer.replaceChildren();
      const selected = model.get("selected");
      for (const e of model.get("edges") || []) {
        const a = index[e.src], b = index[e.dst];
        if (!a || !b) continue;
        const [ax, ay] = pos(a), [bx, by] = pos(b);
        const slot = Math.max(0, b.inputs.indexOf(e.param));
        // end at the port's rim so the arrowhead touches the port instead of covering it
        const d = edgePath(ax + NODE_W + 7, ay + HEAD_H / 2, bx - 7, by + inPortY(slot));
        const hot = e.id === selectedEdge ? " selected" : (e.src === selected || e.dst === selected ? " near" : "");
        const g = el_("g", { class: "pl-edge" + hot, "data-testid": `edge-${e.src}-${e.dst}-${e.param}`,
          "data-edge-id": e.id }, edgeLayer);
        el_("path", { d, class: "pl-edge-hit" }, g);
        el_("path", { d, class: "pl-edge-line", "marker-end": "url(#pl-arrow)" }, g);
      }
    }

    function drawNode(n, st, selected, connected) {
      const state = drawnState(n, st);
      const [x, y] = pos(n);
      const h = nodeHeight(n);
      const g = el_("g", {
        class: `pl-node state-${state}` + (n.id === selected ? " selected" : ""),
        transform: `translate(${x},${y})`, "data-testid": `node-${n.id}`,
        "data-node-id": n.id, "data-status": state, "data-label": n.label,
      }, nodeLayer);
      const tip = [`${n.label} (${n.id})`, n.key ? `key ${n.key}\u2026` : "",
        n.problem, st && st.error ? st.error : ""].filter(Boolean).join("\n");
      el_("title", {}, g, tip);
      el_("rect", { class: "pl-body", width: NODE_W, height: h, rx: 9 }, g);
      el_("rect", { class: "pl-band", width: 6, height: h - 18, x: 0, y: 9, rx: 3,
        fill: n.colour }, g);
      el_("text", { class: "pl-title", x: 16, y: 19, "pointer-events": "none" }, g, clip(n.label, 21));
      el_("text", { class: "pl-id", x: NODE_W - 10, y: h - 8, "text-anchor": "end",
        "pointer-events": "none" }, g, n.id);
      el_("text", { class: "pl-sub", x: 16, y: 36, "pointer-events": "none",
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
      const text = n && st && st.state === "failed" ? st.error : n && n.problem ? n.problem : "";
      if (!text || errorClosedFor === id) { errorBox.style.display = "none"; return; }
      errorBox.replaceChildren();
      const head = html_("div", { class: "pl-errorhead" }, errorBox,
        st && st.state === "failed" ? `${n.label} (${id}) failed` : `${n.label} (${id}) cannot run`);
      const close = html_("button", { class: "pl-tool", title: "close" }, head, "\u00d7");
      close.addEventListener("click", (e) => { e.stopPropagation(); errorClosedFor = id; draw(); });
      html_("pre", { "data-testid": "error-text" }, errorBox, text);
      errorBox.style.display = "block";
    }

    function draw() {
      const index = byId();
      const status = model.get("status") || {};
      const selected = model.get("selected");
      const connected = new Set((model.get("edges") || []).map((e) => `${e.dst}.${e.param}`));
      drawEdges(index);
      nodeLayer.replaceChildren();
      for (const n of nodes()) drawNode(n, status[n.id], selected, connected);
      empty.style.display = nodes().length ? "none" : "block";
      drawError(index);
    }

    // -- pointer interaction: one listener on the svg, moves/ups on the window --------------
    function onDown(ev) {
      if (ev.button !== 0) return;
      el.focus({ preventScroll: true });
      const t = ev.target;
      const out = t.closest && t.closest("[data-port-out]");
      const nodeG = t.closest && t.closest(".pl-node");
      const edgeG = t.closest && t.closest(".pl-edge");
      const [wx, wy] = toWorld(ev);
      ev.preventDefault();
      if (out) {
        drag = { type: "connect", src: out.getAttribute("data-node") };
      } else if (nodeG) {
        const id = nodeG.getAttribute("data-node-id");
        const n = byId()[id];
        drag = { type: "move", id, dx: wx - pos(n)[0], dy: wy - pos(n)[1], moved: false };
        select(id);
      } else if (edgeG) {
        selectedEdge = edgeG.getAttribute("data-edge-id");
        drag = null;
        draw();
      } else {
        drag = { type: "pan", sx: ev.clientX, sy: ev.clientY, vx: view.x, vy: view.y, moved: false };
      }
    }

    function onMove(ev) {
      if (!drag) return;
      if (drag.type === "connect") {
        const n = byId()[drag.src];
        if (!n) return;
        const [x, y] = pos(n);
        const [wx, wy] = toWorld(ev);
        ghost.setAttribute("d", edgePath(x + NODE_W, y + HEAD_H / 2, wx, wy));
      } else if (drag.type === "move") {
        const [wx, wy] = toWorld(ev);
        localPos[drag.id] = [Math.round(wx - drag.dx), Math.round(wy - drag.dy)];
        drag.moved = true;
        draw();
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
        const hit = document.elementFromPoint(ev.clientX, ev.clientY);
        const port = hit && hit.closest && hit.closest("[data-port-in]");
        const nodeG = hit && hit.closest && hit.closest(".pl-node");
        let dst = null, param = null;
        if (port) {
          dst = port.getAttribute("data-node");
          param = port.getAttribute("data-port-in");
        } else if (nodeG) { // dropped on a node's body: its first free input
          dst = nodeG.getAttribute("data-node-id");
          const n = byId()[dst];
          const taken = new Set((model.get("edges") || []).filter((e) => e.dst === dst).map((e) => e.param));
          param = n ? (n.inputs.find((p) => !taken.has(p)) || n.inputs[0]) : null;
        }
        if (dst && param && dst !== d.src) model.send({ kind: "connect", src: d.src, dst, param });
      } else if (d.type === "move" && d.moved && localPos[d.id]) {
        const [x, y] = localPos[d.id];
        model.send({ kind: "move", id: d.id, x, y });
      } else if (d.type === "pan" && !d.moved) {
        selectedEdge = null;
        select("");
      }
    }

    function onWheel(ev) {
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }

    function onKey(ev) {
      if (ev.key === "Delete" || ev.key === "Backspace") {
        ev.preventDefault();
        ev.stopPropagation();
        deleteSelected();
      } else if (ev.key === "Escape") {
        ev.stopPropagation();
        select("");
      }
    }

    svg.addEventListener("pointerdown", onDown);
    svg.addEventListener("wheel", onWheel, { passive: false });
    el.addEventListener("keydown", onKey);
    window.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);

    // A node added outside the visible area (palette clicks place nodes on a grid):
    // fit the view so the user sees what was added.
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
    model.on("change:nodes", onNodes);
    model.on("change:edges", draw);
    model.on("change:status", draw);
    model.on("change:selected", draw);
    const onFit = () => fit();
    model.on("change:fit", onFit);

    applyView();
    draw();
    fit();

    return () => {
      window.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
      model.off("change:nodes", onNodes);
      model.off("change:edges", draw);
      model.off("change:status", draw);
      model.off("change:selected", draw);
      model.off("change:fit", onFit);
    };
  },
};
