// The trends page: GET /api/trends as charts (chartsvg.js) and one table of the same numbers,
// with the filters in the URL's hash so a view can be bookmarked.
import { api, downloadCsv, organizerSession } from "./api.js";
import { TREND_COLUMNS, describeBars, periodLabel, trendCells } from "./charts.js";
import { barChart, chartWidth } from "./chartsvg.js";
import { requireOrganizer, renderAppbar } from "./org.js";
import { el, $, showError, hashParams } from "./ui.js";

requireOrganizer();
renderAppbar("trends");

const form = $("#filters");
const admin = !!organizerSession()?.organizer?.is_admin;
$("#f-organizer-field").hidden = !admin;

function query() {
  const q = { period: form.period.value, from: form.from.value || null, to: form.to.value || null };
  if (admin && form.organizer.value.trim()) q.organizer = form.organizer.value.trim();
  return q;
}

function fromHash() {
  const h = hashParams();
  if (h.get("period")) form.period.value = h.get("period");
  form.from.value = h.get("from") || "";
  form.to.value = h.get("to") || "";
  if (admin) form.organizer.value = h.get("organizer") || "";
}

function card(title, ...body) {
  return el("section", { class: "card" }, el("h2", {}, title), ...body);
}

function render(data) {
  const rows = data.rows;
  $("#scope").textContent = data.scope === "all"
    ? (data.organizer_id ? `One organizer's meetings (${data.organizer_id}).` : "Every organizer's meetings (administrator).")
    : "E-participation in your meetings.";
  const labels = rows.map((r) => r.period);
  const label = periodLabel;
  const width = chartWidth($("#charts").firstElementChild) - 48;  // a card's padding
  const chart = (title, series, unit = "") => card(title, ...barChart({
    title, desc: describeBars(title, labels.map(label), series, unit), labels, series, label, width }));
  const charts = rows.length ? [
    chart("Meetings", [{ name: "Meetings", values: rows.map((r) => r.meetings) }, { name: "Held", values: rows.map((r) => r.meetings_held) }]),
    chart("Participants and delegations", [{ name: "Participants", values: rows.map((r) => r.participants) }, { name: "Delegations", values: rows.map((r) => r.delegations) }]),
    chart("Hours of interpretation", [{ name: "Hours", values: rows.map((r) => r.interpretation_hours) }], " h"),
    chart("Languages used", [{ name: "Languages", values: rows.map((r) => r.languages.length) }]),
    chart("Connection quality: samples graded good (%)", [{ name: "Good", values: rows.map((r) => (r.quality_good_share == null ? 0 : Math.round(r.quality_good_share * 1000) / 10)) }, { name: "Poor", values: rows.map((r) => (r.quality_poor_share == null ? 0 : Math.round(r.quality_poor_share * 1000) / 10)) }], " %"),
    chart("Delegations' share of the floor (%)", [{ name: "Share", values: rows.map((r) => (r.delegation_floor_share == null ? 0 : Math.round(r.delegation_floor_share * 1000) / 10)) }], " %"),
  ] : [el("p", { class: "muted" }, "No meetings in this period.")];
  $("#charts").replaceChildren(...charts);
  $("#table").replaceChildren(el("table", { class: "stats" },
    el("caption", { class: "visually-hidden" }, "Trends per period"),
    el("thead", {}, el("tr", {}, ...TREND_COLUMNS.map(([, name]) => el("th", { scope: "col" }, name)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...trendCells(r).map((c, i) => (i === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c))))))));
  $("#not-recorded").textContent = data.not_recorded.length
    ? `Not recorded by MIRP, so not shown: ${data.not_recorded.join(", ")}.` : "";
}

async function load() {
  $("#error").hidden = true;
  try { render(await api.trends(query())); } catch (e) { $("#charts").replaceChildren(); showError($("#error"), e); }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = new URLSearchParams(Object.entries(query()).filter(([, v]) => v));
  history.replaceState(null, "", `#${q}`);
  load();
});
$("#csv").addEventListener("click", () => downloadCsv("/api/trends.csv", query(), `trends-${form.period.value}.csv`).catch((e) => showError($("#error"), e)));

fromHash();
load();
