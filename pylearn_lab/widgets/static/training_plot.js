// Live training curves: one SVG panel per metric, redrawn when `curves` changes.
// Plain ESM for anywidget: no build step, no imports.
const NS = "http://www.w3.org/2000/svg";
const W = 320, H = 170, PAD = { l: 46, r: 10, t: 22, b: 26 };

function svg(tag, attrs, parent) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function fmt(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(3);
}

function panel(name, points, steps) {
  const box = document.createElement("div");
  box.className = "pylearn-training-panel";
  box.dataset.testid = `curve-${name}`;
  const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  box.appendChild(s);
  svg("text", { x: PAD.l, y: 14, class: "title" }, s).textContent = name;
  const ok = (p) => typeof p[1] === "number" && isFinite(p[1]);  // null: a diverged value
  const xs = points.map((p) => p[0]), ys = points.filter(ok).map((p) => p[1]);
  const x0 = 0, x1 = Math.max(steps || 0, ...xs, 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (!ys.length) { y0 = 0; y1 = 1; }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const X = (x) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const Y = (y) => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  svg("rect", { x: PAD.l, y: PAD.t, width: W - PAD.l - PAD.r, height: H - PAD.t - PAD.b, class: "frame" }, s);
  for (const [v, y] of [[y1, PAD.t + 4], [y0, H - PAD.b]]) {
    svg("text", { x: PAD.l - 4, y, class: "tick", "text-anchor": "end" }, s).textContent = fmt(v);
  }
  svg("text", { x: W - PAD.r, y: H - 8, class: "tick", "text-anchor": "end" }, s).textContent = `step ${x1}`;
  const d = points.filter(ok).map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
  const line = svg("polyline", { points: d, class: "curve" }, s);
  line.dataset.points = String(points.length);
  return box;
}

function render({ model, el }) {
  el.classList.add("pylearn-training");
  const head = document.createElement("div");
  head.className = "pylearn-training-head";
  head.dataset.testid = "training-status";
  const grid = document.createElement("div");
  grid.className = "pylearn-training-grid";
  el.append(head, grid);
  const draw = () => {
    const curves = model.get("curves") || {};
    const steps = model.get("steps");
    head.textContent = `${model.get("status")} · step ${model.get("step")}` + (steps ? ` of ${steps}` : "");
    el.dataset.status = model.get("status");
    el.dataset.step = String(model.get("step"));
    grid.replaceChildren(...Object.entries(curves).map(([n, pts]) => panel(n, pts, steps)));
  };
  draw();
  for (const t of ["curves", "status", "step", "steps"]) model.on(`change:${t}`, draw);
}

export default { render };
