// The role guides (help.html#delegate, #interpreter, #chair, #organizer): practical e-participation
// guidelines, one card per topic, every word from the catalogue (help.common.sN.h/p for what every
// role needs, help.<role>.sN.h/p for the role's own), so translators edit them like the rest.
import { renderShell } from "./shell.js";
import { el, $ } from "./ui.js";
import { t, has } from "./i18n.js";

const ROLES = ["delegate", "interpreter", "chair", "organizer", "room"];

function sections(group) {
  const out = [];
  for (let i = 1; has(`help.${group}.s${i}.h`); i++) {
    out.push(el("section", { class: "card" }, el("h3", {}, t(`help.${group}.s${i}.h`)), el("p", { class: "m-0" }, t(`help.${group}.s${i}.p`))));
  }
  return out;
}

function show() {
  const role = ROLES.includes(location.hash.slice(1)) ? location.hash.slice(1) : "delegate";
  $("header.appbar").dataset.help = role;
  renderShell();
  document.title = `${t(`help.${role}.title`)} — MIRP`;
  $("#roles").replaceChildren(...ROLES.map((r) => el("a", { href: `#${r}`, class: "tab", "aria-current": r === role ? "page" : undefined }, t(`role.${r}`))));
  $("#guide").replaceChildren(
    el("h2", { class: "mt-8" }, t(`help.${role}.title`)),
    ...sections(role),
    el("h2", { class: "mt-16" }, t("help.common.title")),
    ...sections("common"));
}
window.addEventListener("hashchange", show);
show();
