// The organizer pages: sign-in guard and the app bar's menu (the brand is shell.js's).
import { api, organizerSession, setOrganizerSession } from "./api.js";
import { renderShell } from "./shell.js";
import { el, $ } from "./ui.js";
import { t } from "./i18n.js";

export function requireOrganizer() {
  const s = organizerSession();
  if (!s?.token) {
    location.replace(`/index.html?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
    throw new Error("not signed in");
  }
  // refresh the name in the background; an expired token sends us back to sign in
  api.me().then((me) => {
    const who = me?.organizer || me;
    if (who?.name) { setOrganizerSession({ ...s, organizer: who }); const w = $(".appbar .who"); if (w) w.textContent = who.name; }
  }).catch((e) => { if (e.status === 401) requireOrganizer(); });
  return s;
}

export function renderAppbar(active) {
  const s = organizerSession();
  const link = (href, label, key) => el("a", { href, "aria-current": active === key ? "page" : undefined }, label);
  renderShell({ sub: t("role.organizer"), home: "/meetings.html", end: [
    el("nav", { "aria-label": t("org.main_nav") },
      link("/meetings.html", t("org.meetings"), "meetings"),
      link("/trends.html", t("org.trends"), "trends"),
      el("span", { class: "who" }, s?.organizer?.name || ""),
      el("button", { class: "linkish", type: "button", onclick: () => { setOrganizerSession(null); location.assign("/index.html"); } }, t("org.sign_out"))),
  ] });
}
