// SVG from the geometry of charts.js: role="img" with a <title> and a <desc> that says the
// numbers, the same ones as the table the page shows beside it. Colours come from the stylesheet
// (.chart .s0 … .s5), so both themes and forced colours apply.
import { barGeometry, lineGeometry } from "./charts.js";

const NS = "http://www.w3.org/2000/svg";
let serial = 0;

function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function frame(g, title, desc) {
  const id = `chart-${++serial}`;
  const svg = svgEl("svg", { class: "chart", viewBox: `0 0 ${g.width} ${g.height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d` },
    svgEl("title", { id: `${id}-t` }, title), svgEl("desc", { id: `${id}-d` }, desc));
  for (const t of g.yTicks) {
    svg.append(svgEl("line", { class: "grid", x1: g.plot.x, x2: g.plot.x + g.plot.w, y1: t.y, y2: t.y }),
      svgEl("text", { class: "tick", x: g.plot.x - 6, y: t.y + 4, "text-anchor": "end" }, fmt(t.value)));
  }
  return svg;
}

const fmt = (v) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 100) / 100));

/** Grouped bars; `label(l)` shortens a group's label under the axis. */
export function barChart({ title, desc, labels, series, label = (l) => l, width, height }) {
  const g = barGeometry(labels, series, { width, height });
  const svg = frame(g, title, desc);
  // as many labels under the axis as fit (about 6.5 px a character at 11 px); the table has all
  const widest = Math.max(1, ...labels.map((l) => String(label(l)).length));
  const every = Math.max(1, Math.ceil((labels.length * (widest * 6.5 + 8)) / g.plot.w));
  g.groups.forEach((grp, i) => {
    if (i % every === 0) svg.append(svgEl("text", { class: "tick", x: grp.x, y: g.plot.y + g.plot.h + 16, "text-anchor": "middle" }, label(grp.label)));
  });
  for (const b of g.bars) {
    svg.append(svgEl("rect", { class: `bar s${b.index % 6}`, x: b.x, y: b.y, width: b.w, height: b.h },
      svgEl("title", {}, `${label(b.label)}${series.length > 1 ? `, ${b.series}` : ""}: ${b.value}`)));
  }
  return [svg, legend(series)];
}

/** A chart's width in user units: the space the page gives it, so text stays readable on a phone. */
export function chartWidth(container) {
  const w = container?.clientWidth || 640;
  return Math.round(Math.min(640, Math.max(300, w)));
}

/** Lines over time (ms). */
export function lineChart({ title, desc, times, series, width, height }) {
  const g = lineGeometry(times, series, { width, height });
  const svg = frame(g, title, desc);
  for (const t of g.xTicks) {
    svg.append(svgEl("text", { class: "tick", x: t.x, y: g.plot.y + g.plot.h + 16, "text-anchor": "middle" },
      new Date(t.t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  }
  for (const l of g.lines) {
    svg.append(svgEl("polyline", { class: `line s${l.index % 6}`, points: l.points.map((p) => p.join(",")).join(" ") }));
  }
  return [svg, legend(series)];
}

function legend(series) {
  if (series.length < 2) return null;
  const ul = document.createElement("ul");
  ul.className = "chart-legend";
  ul.setAttribute("aria-hidden", "true");  // the table names the series
  series.forEach((s, k) => {
    const li = document.createElement("li");
    const sw = svgEl("svg", { class: "swatch", viewBox: "0 0 10 10", width: 10, height: 10 }, svgEl("rect", { class: `bar s${k % 6}`, width: 10, height: 10 }));
    li.append(sw, ` ${s.name}`);
    ul.append(li);
  });
  return ul;
}
