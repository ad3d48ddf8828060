// One meeting's report (GET /api/meetings/{id}/report): each part as a chart and a table of the
// same numbers, each table downloadable as CSV (report.csv?table=…).
import { api, downloadCsv } from "./api.js";
import { describeBars, minutes, presenceSeries } from "./charts.js";
import { barChart, chartWidth, lineChart } from "./chartsvg.js";
import { requireOrganizer, renderAppbar } from "./org.js";
import { el, $, showError, hashParams, fmtRange, statusBadge, langName, ROLE_LABEL } from "./ui.js";
import { t, lang } from "./i18n.js";

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
    downloadCsv(`/api/meetings/${encodeURIComponent(id)}/report.csv`, { table: csvTable }, `report-${id}-${csvTable}.csv`).catch((e) => showError($("#error"), e)) }, t("report.csv"));
  // a body part may be null: an empty table is left out, its "nothing recorded" line says it
  return el("section", { class: "card" }, el("div", { class: "card-head" }, el("h2", {}, title), csv), ...body.filter(Boolean));
}

function bars(title, labels, values, unit) {
  const series = [{ name: title, values }];
  return barChart({ title, desc: describeBars(title, labels, series, unit), labels, series, height: 220, width: WIDTH() });
}

const MIN = ` ${t("unit.min_short")}`;

function render(rep) {
  const m = rep.meeting;
  document.title = `${t("report.of", { title: m.title })} — MIRP`;
  $("#title").textContent = t("report.of", { title: m.title });
  $("#back").href = `/meeting.html#id=${encodeURIComponent(m.id)}`;
  $("#sub").replaceChildren(statusBadge(m.status), el("span", {}, fmtRange(m.starts_at, m.ends_at)));
  const spoke = rep.speaking.reduce((n, s) => n + s.turns, 0);
  const onAir = rep.booths.reduce((n, b) => n + b.seconds, 0);
  $("#summary").replaceChildren(...[
    [t("report.participants"), rep.participants_joined], [t("report.turns"), spoke],
    [t("report.on_air_minutes"), minutes(onAir)], [t("report.channels_listened"), rep.listening.length],
  ].map(([k, v]) => el("div", { class: "card tight" }, el("div", { class: "muted small" }, k), el("strong", {}, String(v)))));

  const parts = [];
  const tl = presenceSeries(rep.timeline);
  const names = tl.series.map((s) => (s.name === "Everyone" ? t("report.everyone") : ROLE_LABEL[s.name] || s.name));
  const series = tl.series.map((s, i) => ({ ...s, name: names[i] }));
  const peak = Math.max(0, ...rep.timeline.map((p) => p.present));
  parts.push(section(t("report.attendance_time"), "timeline",
    ...(rep.timeline.length ? lineChart({ title: t("report.present_time"), desc: t("report.sampled", { step: rep.timeline_step_s / 60, peak }), times: tl.times, series, height: 220, width: WIDTH() }) : [el("p", { class: "muted" }, t("report.nobody_joined"))]),
    // per delegation: their count here, each delegation's own column in the CSV
    table(t("report.present_time"), [t("report.col.time"), ...names, t("report.col.delegations_present")], rep.timeline.map((p) => [
      new Date(p.at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }), ...tl.series.map((s) => String(s.name === "Everyone" ? p.present : p.by_role[s.name] || 0)),
      String(Object.keys(p.by_delegation).length)]))));
  const del = rep.floor_by_delegation;
  parts.push(section(t("report.floor_delegation"), "floor_by_delegation",
    ...bars(t("report.floor_min_delegation"), del.map((d) => d.delegation || t("report.none")), del.map((d) => minutes(d.seconds)), MIN),
    table(t("report.floor_delegation"), [t("common.delegation"), t("report.col.turns"), t("report.col.minutes")], del.map((d) => [d.delegation || t("report.none"), String(d.turns), String(minutes(d.seconds))]))));
  const byLang = rep.floor_by_language;
  parts.push(section(t("report.floor_language"), "floor_by_language",
    ...bars(t("report.floor_min_language"), byLang.map((l) => (l.language ? langName(l.language) : t("report.unknown"))), byLang.map((l) => minutes(l.seconds)), MIN),
    table(t("report.floor_language_t"), [t("report.col.language"), t("report.col.turns"), t("report.col.minutes")], byLang.map((l) => [l.language ? langName(l.language) : t("report.unknown"), String(l.turns), String(minutes(l.seconds))]))));
  parts.push(section(t("report.listened"), "listening",
    ...bars(t("report.listened"), rep.listening.map((c) => langName(c.channel)), rep.listening.map((c) => minutes(c.seconds)), MIN),
    table(t("report.listening_t"), [t("report.col.channel"), t("report.col.listeners"), t("report.col.minutes")], rep.listening.map((c) => [langName(c.channel), String(c.listeners), String(minutes(c.seconds))]))));
  parts.push(section(t("report.booths"), "booths",
    ...bars(t("report.booths_min"), rep.booths.map((b) => langName(b.booth)), rep.booths.map((b) => minutes(b.seconds)), MIN),
    table(t("report.booths_t"), [t("console.booth"), t("report.col.turns"), t("report.col.minutes"), t("report.col.handovers"), t("report.col.interpreters")], rep.booths.map((b) => [langName(b.booth), String(b.turns), String(minutes(b.seconds)), String(b.handovers), String(b.interpreters)]))));
  parts.push(section(t("live.participants"), "attendance",
    table(t("report.attendance_t"), [t("common.name"), t("common.role"), t("common.delegation"), t("report.col.joins"), t("report.col.minutes_present")], rep.attendance.map((a) => [a.name, ROLE_LABEL[a.role] || a.role, a.delegation || "", String(a.joins), String(minutes(a.present_s))]))));
  const q = rep.quality;
  parts.push(section(t("quality.title"), "quality",
    ...(q.length ? bars(t("report.rtt_role"), q.map((r) => ROLE_LABEL[r.role] || r.role), q.map((r) => r.rtt_ms_p50 ?? 0), " ms") : [el("p", { class: "muted" }, t("report.no_quality"))]),
    q.length ? table(t("report.quality_t"), [t("common.role"), t("live.participants"), t("report.col.samples"), t("report.col.good"), t("report.col.fair"), t("report.col.poor"), t("report.col.rtt"), t("report.col.loss")], q.map((r) => [
      ROLE_LABEL[r.role] || r.role, String(r.participants), String(r.samples), String(r.good), String(r.fair), String(r.poor),
      [r.rtt_ms_p50, r.rtt_ms_p90, r.rtt_ms_p99].map((v) => (v == null ? "—" : String(v))).join(" / "),
      [r.loss_p50, r.loss_p90, r.loss_p99].map((v) => (v == null ? "—" : String(Math.round(v * 1000) / 10))).join(" / ")])) : null));
  const failed = rep.failed_joins;
  parts.push(section(t("report.failed"), "failed_joins",
    ...(failed.length ? bars(t("report.refused"), failed.map((f) => f.reason), failed.map((f) => f.count), "") : [el("p", { class: "muted" }, t("report.none_refused"))]),
    failed.length ? table(t("report.refused"), [t("report.col.reason"), t("report.col.joins")], failed.map((f) => [f.reason, String(f.count)])) : null));
  parts.push(section(t("trends.col.delegations"), "delegations",
    table(t("report.per_delegation"), [t("common.delegation"), t("meeting.inv.country"), t("live.participants")], rep.delegations.map((d) => [d.delegation, d.country || "—", String(d.participants)]))));
  $("#sections").replaceChildren(...parts);
  const words = { quality: t("report.word.quality"), failed_joins: t("report.word.failed_joins") };
  $("#not-recorded").textContent = rep.not_recorded.length
    ? t("report.not_recorded", { list: rep.not_recorded.map((k) => words[k] || k).join(", ") }) : "";
}

async function load() {
  if (!id) { showError($("#error"), new Error(t("report.no_meeting"))); return; }
  try { render(await api.report(id)); } catch (e) { $("#summary").replaceChildren(); showError($("#error"), e); }
}
load();
