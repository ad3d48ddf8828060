// The charts' pure helpers (web/js/charts.js): scales, bar and line geometry, the trends table's
// cells and the report's presence series.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  barGeometry, describeBars, lineGeometry, minutes, niceCeil, periodLabel, presenceSeries,
  ticks, trendCells, TREND_COLUMNS,
} from "../../../web/js/charts.js";

test("nice maxima and ticks", () => {
  assert.equal(niceCeil(0), 1);
  assert.equal(niceCeil(7), 10);
  assert.equal(niceCeil(10), 10);
  assert.equal(niceCeil(11), 20);
  assert.equal(niceCeil(0.23), 0.25);
  assert.equal(niceCeil(420), 500);
  assert.deepEqual(ticks(7), [0, 2.5, 5, 7.5, 10]);
  assert.deepEqual(ticks(0.9, 2), [0, 0.5, 1]);
  // counts get whole steps: no "2.5 meetings"
  assert.deepEqual(ticks(3, 4, true), [0, 1, 2, 3]);
  assert.deepEqual(ticks(0, 4, true), [0, 1]);
  assert.deepEqual(ticks(37, 4, true), [0, 10, 20, 30, 40]);
  assert.deepEqual(ticks(7, 4, true), [0, 2, 4, 6, 8]);
  assert.deepEqual(ticks(10, 4, true), [0, 2, 4, 6, 8, 10]);
});

test("bars stand on the axis, proportional to their values, grouped per label", () => {
  const g = barGeometry(["a", "b"], [{ name: "x", values: [5, 10] }, { name: "y", values: [0, null] }], { width: 300, height: 200 });
  const base = g.plot.y + g.plot.h;
  assert.equal(g.bars.length, 4);
  for (const b of g.bars) assert.ok(Math.abs(b.y + b.h - base) < 1e-9);
  const [a, , b2] = g.bars;
  assert.ok(Math.abs(b2.h - 2 * a.h) < 1e-9, "10 is twice 5");
  assert.equal(g.bars[1].h, 0);  // a zero bar has no height
  assert.equal(g.bars[3].value, 0);  // a missing value is drawn as 0
  assert.ok(b2.x > a.x && g.bars[1].x > a.x && g.bars[1].x < b2.x, "a's two bars, then b's");
  assert.equal(g.yTicks[g.yTicks.length - 1].value, 10);
  assert.equal(g.yTicks[g.yTicks.length - 1].y, g.plot.y);
});

test("lines run across the plot over time", () => {
  const g = lineGeometry([0, 60000, 120000], [{ name: "n", values: [0, 4, 2] }], { width: 300, height: 200 });
  const [p0, p1, p2] = g.lines[0].points;
  assert.equal(p0[0], g.plot.x);
  assert.equal(p2[0], g.plot.x + g.plot.w);
  assert.equal(p0[1], g.plot.y + g.plot.h);
  assert.ok(p1[1] < p2[1] && p2[1] < p0[1]);
  assert.equal(g.xTicks.length, 3);
});

test("periods and minutes read as people say them", () => {
  assert.equal(periodLabel("2026-03"), "Mar 2026");
  assert.equal(periodLabel("2026-Q4"), "Q4 2026");
  assert.equal(periodLabel("odd"), "odd");
  assert.equal(minutes(90), 1.5);
  assert.equal(minutes(100), 1.7);
});

test("the trends table has one cell per column, in the API's numbers", () => {
  const row = { period: "2026-01", meetings: 2, meetings_held: 2, participants: 5, interpreters: 1,
    delegations: 2, languages: ["de", "en"], interpretation_hours: 0.1, speaking_turns: 3,
    floor_hours: 0.1, delegation_floor_share: 0.8333, countries: 3, quality_samples: 5,
    quality_good_share: 0.6, quality_fair_share: 0.2, quality_poor_share: 0.2, rtt_ms_mean: 110 };
  const cells = trendCells(row);
  assert.equal(cells.length, TREND_COLUMNS.length);
  assert.deepEqual(cells, ["Jan 2026", "2", "2", "5", "1", "2", "2 (de, en)", "0.1", "3", "0.1", "83.3 %",
    "3", "60 %", "110"]);
  assert.equal(trendCells({ ...row, delegation_floor_share: null, languages: [] })[10], "—");
  assert.deepEqual(trendCells({ ...row, quality_good_share: null, rtt_ms_mean: null }).slice(12), ["—", "—"]);
});

test("presence over time: everyone, then one series per role, zeros where a role is absent", () => {
  const s = presenceSeries([
    { at: "2026-05-04T09:00:00Z", present: 2, by_role: { chair: 1, delegate: 1 }, by_delegation: {} },
    { at: "2026-05-04T09:01:00Z", present: 1, by_role: { interpreter: 1 }, by_delegation: {} },
  ]);
  assert.deepEqual(s.times, [Date.parse("2026-05-04T09:00:00Z"), Date.parse("2026-05-04T09:01:00Z")]);
  assert.deepEqual(s.series.map((x) => x.name), ["Everyone", "chair", "delegate", "interpreter"]);
  assert.deepEqual(s.series[3].values, [0, 1]);
});

test("a chart's description says its numbers", () => {
  assert.equal(describeBars("Meetings", ["Jan 2026"], [{ name: "m", values: [3] }]), "Meetings. Jan 2026: 3.");
  assert.equal(describeBars("Meetings", [], []), "Meetings: no data.");
  assert.equal(describeBars("Hours", ["Q1"], [{ name: "a", values: [1] }, { name: "b", values: [2] }], " h"), "Hours. Q1: a 1 h, b 2 h.");
});
