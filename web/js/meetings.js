import { api } from "./api.js";
import { requireOrganizer, renderAppbar } from "./org.js";
import { el, $, showError, fmtRange, langName, statusBadge, icon } from "./ui.js";
import { t } from "./i18n.js";

requireOrganizer();
renderAppbar("meetings");

async function load() {
  const list = $("#list");
  try {
    const meetings = await api.listMeetings();
    if (!meetings.length) {
      list.replaceChildren(el("div", { class: "card empty", style: "grid-column:1/-1" },
        el("div", { class: "big" }, icon("calendar", 40)),
        el("h2", {}, t("meetings.none")),
        el("p", {}, t("meetings.none_detail")),
        el("a", { class: "btn primary", href: "/meeting.html#new" }, t("meetings.new"))));
      return;
    }
    meetings.sort((a, b) => String(a.starts_at || "").localeCompare(String(b.starts_at || "")));
    list.replaceChildren(...meetings.map((m) => el("a", { class: "card meeting-card", href: `/meeting.html#id=${encodeURIComponent(m.id)}` },
      el("div", { class: "row between" }, statusBadge(m.status), m.registration_open ? el("span", { class: "badge" }, t("meetings.reg_open")) : null),
      el("h3", {}, m.title || t("meetings.untitled")),
      el("div", { class: "when" }, fmtRange(m.starts_at, m.ends_at)),
      el("div", { class: "chips", "aria-label": t("common.languages") }, ...(m.languages || []).map((l) => el("span", { class: "chip", lang: l }, langName(l)))),
    )));
  } catch (e) { list.replaceChildren(); showError($("#error"), e); }
}
load();
