// Charts as plain geometry, drawn from the data (pure: no DOM; node tests it). The pages turn the
// geometry into SVG (chartsvg.js) beside a table of the same numbers. Drawn by hand rather than
// with a chart library: three chart shapes (bars, grouped bars, lines) over a few hundred points
// need about as much code as the glue to a library would, and SVG we write ourselves can carry
// <title>/<desc> and the CSP's rules (no inline styles) without fighting anyone's defaults.

import { t, lang } from "./i18n.js";

/** The smallest "nice" number (1, 2, 2.5 or 5 times a power of ten) at or above v. */
export function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-9 * p) return m * p;
  return 10 * p;
}

/** Axis ticks from 0 to a nice maximum at or above `max`, `count` steps; whole steps for
 * counts (`integer`: no "2.5 meetings"). */
export function ticks(max, count = 4, integer = false) {
  // counts: a whole nice step (1, 2, 5, 10, 20, 25, 50…), as many as reach the maximum
  const step = integer ? Math.max(1, Math.floor(niceCeil(max / count))) : niceCeil(max) / count;
  const n = integer ? Math.max(1, Math.ceil(max / step)) : count;
  return Array.from({ length: n + 1 }, (_, i) => +(i * step).toPrecision(12));
}

const whole = (values) => values.every((v) => Number.isInteger(v ?? 0));

const PAD = { top: 12, right: 12, bottom: 36, left: 48 };

/**
 * Grouped vertical bars: one group per label, one bar per series.
 * @param {string[]} labels
 * @param {{name: string, values: (number|null)[]}[]} series
 * @returns {{width, height, plot, yTicks: {y, value}[], groups: {x, label}[], bars: {x, y, w, h, value, label, series, index}[]}}
 */
export function barGeometry(labels, series, { width = 640, height = 260 } = {}) {
  const plot = { x: PAD.left, y: PAD.top, w: width - PAD.left - PAD.right, h: height - PAD.top - PAD.bottom };
  const max = Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const yt = ticks(max, 4, whole(series.flatMap((s) => s.values)));
  const top = yt[yt.length - 1];
  const y = (v) => plot.y + plot.h - (v / top) * plot.h;
  const slot = labels.length ? plot.w / labels.length : plot.w;
  const inner = slot * 0.8;
  const bw = series.length ? inner / series.length : inner;
  const bars = [];
  labels.forEach((label, i) => {
    series.forEach((s, k) => {
      const value = s.values[i] ?? 0;
      const x = plot.x + i * slot + (slot - inner) / 2 + k * bw;
      bars.push({ x, y: y(value), w: Math.max(1, bw - 1), h: plot.y + plot.h - y(value), value, label, series: s.name, index: k });
    });
  });
  return {
    width, height, plot,
    yTicks: yt.map((value) => ({ y: y(value), value })),
    groups: labels.map((label, i) => ({ x: plot.x + i * slot + slot / 2, label })),
    bars,
  };
}

/**
 * Lines over a time axis (the report's presence over time).
 * @param {number[]} times  milliseconds, ascending
 * @param {{name: string, values: number[]}[]} series
 */
export function lineGeometry(times, series, { width = 640, height = 260 } = {}) {
  const plot = { x: PAD.left, y: PAD.top, w: width - PAD.left - PAD.right, h: height - PAD.top - PAD.bottom };
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const yt = ticks(max, 4, whole(series.flatMap((s) => s.values)));
  const top = yt[yt.length - 1];
  const t0 = times[0] ?? 0;
  const span = Math.max(1, (times[times.length - 1] ?? 0) - t0);
  const x = (ms) => plot.x + ((ms - t0) / span) * plot.w;
  const y = (v) => plot.y + plot.h - (v / top) * plot.h;
  return {
    width, height, plot,
    yTicks: yt.map((value) => ({ y: y(value), value })),
    lines: series.map((s, k) => ({
      name: s.name, index: k,
      points: times.map((ms, i) => [round1(x(ms)), round1(y(s.values[i] ?? 0))]),
    })),
    xTicks: pickTimes(times, 5).map((ms) => ({ x: x(ms), t: ms })),
  };
}

function round1(v) { return Math.round(v * 10) / 10; }

function pickTimes(times, n) {
  if (times.length <= n) return times;
  return Array.from({ length: n }, (_, i) => times[Math.round((i * (times.length - 1)) / (n - 1))]);
}

/** "2026-Q1" and "2026-03" for people: "Q1 2026", "Mar 2026". */
export function periodLabel(period) {
  const q = /^(\d{4})-Q([1-4])$/.exec(period);
  if (q) return t("trends.quarter_label", { quarter: q[2], year: q[1] });
  const m = /^(\d{4})-(\d{2})$/.exec(period);
  if (!m) return period;
  return new Intl.DateTimeFormat(lang, { month: "short", year: "numeric", timeZone: "UTC" }).format(Date.UTC(+m[1], +m[2] - 1, 15));
}

/** Seconds as minutes, one decimal (tables and charts show minutes). */
export const minutes = (seconds) => Math.round((seconds / 60) * 10) / 10;

/** The trends' table: the columns the page shows and one row of cells per period. */
export const TREND_COLUMNS = ["period", "meetings", "meetings_held", "participants", "interpreters", "delegations",
  "languages", "interpretation_hours", "speaking_turns", "floor_hours", "delegation_floor_share", "countries",
  "quality_good_share", "rtt_ms_mean"].map((key) => [key, t(`trends.col.${key}`)]);

export function trendCells(row) {
  return TREND_COLUMNS.map(([key]) => {
    const v = row[key];
    if (key === "period") return periodLabel(v);
    if (key === "languages") return v.length ? `${v.length} (${v.join(", ")})` : "0";
    if (key === "delegation_floor_share" || key === "quality_good_share") return v == null ? "—" : `${Math.round(v * 1000) / 10} %`;
    if (key === "rtt_ms_mean") return v == null ? "—" : String(v);
    return String(v);
  });
}

/** Presence over time from the report's timeline: total and one series per role. */
export function presenceSeries(timeline) {
  const roles = [...new Set(timeline.flatMap((p) => Object.keys(p.by_role)))].sort();
  return {
    times: timeline.map((p) => Date.parse(p.at)),
    series: [
      { name: "Everyone", values: timeline.map((p) => p.present) },
      ...roles.map((r) => ({ name: r, values: timeline.map((p) => p.by_role[r] || 0) })),
    ],
  };
}

/** A sentence that says what a bar chart shows, for its <desc> (screen readers get the numbers in the table too). */
export function describeBars(what, labels, series, unit = "") {
  if (!labels.length) return t("chart.no_data", { what });
  const parts = labels.map((l, i) => `${l}: ${series.map((s) => `${series.length > 1 ? `${s.name} ` : ""}${s.values[i] ?? 0}${unit}`).join(", ")}`);
  return `${what}. ${parts.join("; ")}.`;
}
