// The trends page: GET /api/trends as charts (chartsvg.js) and one table of the same numbers,
// with the filters in the URL's hash so a view can be bookmarked.
import { api, downloadCsv, organizerSession } from "./api.js";
import { TREND_COLUMNS, describeBars, periodLabel, trendCells } from "./charts.js";
import { barChart, chartWidth } from "./chartsvg.js";
import { requireOrganizer, renderAppbar } from "./org.js";
import { el, $, showError, hashParams } from "./ui.js";
import { t } from "./i18n.js";

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
    ? (data.organizer_id ? t("trends.scope_one", { id: data.organizer_id }) : t("trends.scope_all"))
    : t("trends.scope_own");
  const labels = rows.map((r) => r.period);
  const label = periodLabel;
  const width = chartWidth($("#charts").firstElementChild) - 48;  // a card's padding
  const chart = (title, series, unit = "") => card(title, ...barChart({
    title, desc: describeBars(title, labels.map(label), series, unit), labels, series, label, width }));
  const charts = rows.length ? [
    chart(t("trends.col.meetings"), [{ name: t("trends.col.meetings"), values: rows.map((r) => r.meetings) }, { name: t("trends.col.meetings_held"), values: rows.map((r) => r.meetings_held) }]),
    chart(t("trends.chart.people"), [{ name: t("trends.col.participants"), values: rows.map((r) => r.participants) }, { name: t("trends.col.delegations"), values: rows.map((r) => r.delegations) }]),
    chart(t("trends.chart.hours"), [{ name: t("trends.chart.hours_series"), values: rows.map((r) => r.interpretation_hours) }], ` ${t("unit.h")}`),
    chart(t("trends.chart.languages"), [{ name: t("trends.col.languages"), values: rows.map((r) => r.languages.length) }]),
    chart(t("trends.chart.quality"), [{ name: t("report.col.good"), values: rows.map((r) => (r.quality_good_share == null ? 0 : Math.round(r.quality_good_share * 1000) / 10)) }, { name: t("report.col.poor"), values: rows.map((r) => (r.quality_poor_share == null ? 0 : Math.round(r.quality_poor_share * 1000) / 10)) }], " %"),
    chart(t("trends.chart.share"), [{ name: t("trends.chart.share_series"), values: rows.map((r) => (r.delegation_floor_share == null ? 0 : Math.round(r.delegation_floor_share * 1000) / 10)) }], " %"),
  ] : [el("p", { class: "muted" }, t("trends.none"))];
  $("#charts").replaceChildren(...charts);
  $("#table").replaceChildren(el("table", { class: "stats" },
    el("caption", { class: "visually-hidden" }, t("trends.caption")),
    el("thead", {}, el("tr", {}, ...TREND_COLUMNS.map(([, name]) => el("th", { scope: "col" }, name)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...trendCells(r).map((c, i) => (i === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c))))))));
  $("#not-recorded").textContent = data.not_recorded.length
    ? t("trends.not_recorded", { list: data.not_recorded.join(", ") }) : "";
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
