// One meeting's report (GET /api/meetings/{id}/report): each part as a chart and a table of the
// same numbers, each table downloadable as CSV (report.csv?table=…).
import { api, downloadCsv } from "./api.js";
import { describeBars, minutes, presenceSeries } from "./charts.js";
import { barChart, chartWidth, lineChart } from "./chartsvg.js";
import { requireOrganizer, renderAppbar } from "./org.js";
import { el, $, showError, hashParams, fmtRange, statusBadge, langName, ROLE_LABEL } from "./ui.js";

requireOrganizer();
renderAppbar("meetings");
const id = hashParams().get("id");
// the width a section's chart gets: half the page on a desktop, all of it on a phone
const WIDTH = () => chartWidth({ clientWidth: (window.innerWidth >= 900 ? Math.min(1200, window.innerWidth) / 2 : window.innerWidth) - 80 });

function table(caption, head, rows) {
  // a wide table scrolls: the keyboard reaches it (focusable region, named by its caption)
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption }, el("table", { class: "stats" },
    el("caption", { class: "visually-hidden" }, caption),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => (i === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c))))))));
}

function section(title, csvTable, ...body) {
  const csv = el("button", { class: "btn small", type: "button", onclick: () =>
    downloadCsv(`/api/meetings/${encodeURIComponent(id)}/report.csv`, { table: csvTable }, `report-${id}-${csvTable}.csv`).catch((e) => showError($("#error"), e)) }, "CSV");
  // a body part may be null: an empty table is left out, its "nothing recorded" line says it
  return el("section", { class: "card" }, el("div", { class: "card-head" }, el("h2", {}, title), csv), ...body.filter(Boolean));
}

function bars(title, labels, values, unit) {
  const series = [{ name: title, values }];
  return barChart({ title, desc: describeBars(title, labels, series, unit), labels, series, height: 220, width: WIDTH() });
}

function render(rep) {
  const m = rep.meeting;
  document.title = `Report: ${m.title} — MIRP`;
  $("#title").textContent = `Report: ${m.title}`;
  $("#back").href = `/meeting.html#id=${encodeURIComponent(m.id)}`;
  $("#sub").replaceChildren(statusBadge(m.status), el("span", {}, fmtRange(m.starts_at, m.ends_at)));
  const spoke = rep.speaking.reduce((n, s) => n + s.turns, 0);
  const onAir = rep.booths.reduce((n, b) => n + b.seconds, 0);
  $("#summary").replaceChildren(...[
    ["Participants", rep.participants_joined], ["Speaking turns", spoke],
    ["On-air minutes", minutes(onAir)], ["Channels listened", rep.listening.length],
  ].map(([k, v]) => el("div", { class: "card tight" }, el("div", { class: "muted small" }, k), el("strong", {}, String(v)))));

  const parts = [];
  const tl = presenceSeries(rep.timeline);
  const names = tl.series.map((s) => ROLE_LABEL[s.name] || s.name);
  const series = tl.series.map((s, i) => ({ ...s, name: names[i] }));
  const peak = Math.max(0, ...rep.timeline.map((p) => p.present));
  parts.push(section("Attendance over time", "timeline",
    ...(rep.timeline.length ? lineChart({ title: "Participants present over time", desc: `Sampled every ${rep.timeline_step_s / 60} min; at most ${peak} at once. The table has every point.`, times: tl.times, series, height: 220, width: WIDTH() }) : [el("p", { class: "muted" }, "Nobody joined.")]),
    // per delegation: their count here, each delegation's own column in the CSV
    table("Participants present over time", ["Time", ...names, "Delegations present"], rep.timeline.map((p) => [
      new Date(p.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }), ...tl.series.map((s) => String(s.name === "Everyone" ? p.present : p.by_role[s.name] || 0)),
      String(Object.keys(p.by_delegation).length)]))));
  const del = rep.floor_by_delegation;
  parts.push(section("Floor time per delegation", "floor_by_delegation",
    ...bars("Floor minutes per delegation", del.map((d) => d.delegation || "(none)"), del.map((d) => minutes(d.seconds)), " min"),
    table("Floor time per delegation", ["Delegation", "Turns", "Minutes"], del.map((d) => [d.delegation || "(none)", String(d.turns), String(minutes(d.seconds))]))));
  const lang = rep.floor_by_language;
  parts.push(section("Floor time per language spoken", "floor_by_language",
    ...bars("Floor minutes per language", lang.map((l) => (l.language ? langName(l.language) : "(unknown)")), lang.map((l) => minutes(l.seconds)), " min"),
    table("Floor time per language", ["Language", "Turns", "Minutes"], lang.map((l) => [l.language ? langName(l.language) : "(unknown)", String(l.turns), String(minutes(l.seconds))]))));
  parts.push(section("Minutes listened per channel", "listening",
    ...bars("Minutes listened per channel", rep.listening.map((c) => langName(c.channel)), rep.listening.map((c) => minutes(c.seconds)), " min"),
    table("Listening per channel", ["Channel", "Listeners", "Minutes"], rep.listening.map((c) => [langName(c.channel), String(c.listeners), String(minutes(c.seconds))]))));
  parts.push(section("Interpretation: on air per booth", "booths",
    ...bars("On-air minutes per booth", rep.booths.map((b) => langName(b.booth)), rep.booths.map((b) => minutes(b.seconds)), " min"),
    table("On air per booth", ["Booth", "Turns", "Minutes", "Handovers", "Interpreters"], rep.booths.map((b) => [langName(b.booth), String(b.turns), String(minutes(b.seconds)), String(b.handovers), String(b.interpreters)]))));
  parts.push(section("Participants", "attendance",
    table("Attendance per participant", ["Name", "Role", "Delegation", "Joins", "Minutes present"], rep.attendance.map((a) => [a.name, ROLE_LABEL[a.role] || a.role, a.delegation || "", String(a.joins), String(minutes(a.present_s))]))));
  const q = rep.quality;
  parts.push(section("Connection quality", "quality",
    ...(q.length ? bars("Median round-trip time per role (ms)", q.map((r) => ROLE_LABEL[r.role] || r.role), q.map((r) => r.rtt_ms_p50 ?? 0), " ms") : [el("p", { class: "muted" }, "No quality sample was recorded.")]),
    q.length ? table("Connection quality per role", ["Role", "Participants", "Samples", "Good", "Fair", "Poor", "RTT p50 / p90 / p99 (ms)", "Loss p50 / p90 / p99 (%)"], q.map((r) => [
      ROLE_LABEL[r.role] || r.role, String(r.participants), String(r.samples), String(r.good), String(r.fair), String(r.poor),
      [r.rtt_ms_p50, r.rtt_ms_p90, r.rtt_ms_p99].map((v) => (v == null ? "—" : String(v))).join(" / "),
      [r.loss_p50, r.loss_p90, r.loss_p99].map((v) => (v == null ? "—" : String(Math.round(v * 1000) / 10))).join(" / ")])) : null));
  const failed = rep.failed_joins;
  parts.push(section("Joins that failed", "failed_joins",
    ...(failed.length ? bars("Refused joins per reason", failed.map((f) => f.reason), failed.map((f) => f.count), "") : [el("p", { class: "muted" }, "No join was refused.")]),
    failed.length ? table("Refused joins per reason", ["Reason", "Joins"], failed.map((f) => [f.reason, String(f.count)])) : null));
  parts.push(section("Delegations", "delegations",
    table("Participants per delegation", ["Delegation", "Country", "Participants"], rep.delegations.map((d) => [d.delegation, d.country || "—", String(d.participants)]))));
  $("#sections").replaceChildren(...parts);
  const words = { quality: "connection quality", failed_joins: "joins that failed" };
  $("#not-recorded").textContent = rep.not_recorded.length
    ? `Not recorded by MIRP, so not in this report: ${rep.not_recorded.map((k) => words[k] || k).join(", ")}.` : "";
}

async function load() {
  if (!id) { showError($("#error"), new Error("No meeting given.")); return; }
  try { render(await api.report(id)); } catch (e) { $("#summary").replaceChildren(); showError($("#error"), e); }
}
load();
