// The page shell, defined once for every page: the skip link and the app bar with the brand.
// Each page's HTML keeps the landmarks themselves (<header class="appbar">, <main id="main">), so
// that they exist from the first paint; the bar's height is fixed in the CSS, so filling it moves
// nothing. The header says what the page adds to the brand:
//   <header class="appbar" data-sub="Registration" data-home="/"></header>
// and this module fills it as soon as it runs (a page with no script of its own loads it alone).
// Pages with more in the bar call renderShell again: the organizer's menu (org.js), the live
// pages' meeting title and connection state (live.js). Every bar ends with the language picker
// and a Help link to the guide for the page's role (the header's data-help: delegate, interpreter,
// chair, organizer).
import { el } from "./ui.js";
import { t, lang, UI_LANGS, chooseLanguage } from "./i18n.js";

/**
 * Fill the page's app bar, once per call (it replaces what the bar held), and make sure the page
 * starts with a skip link to <main>.
 * @param {object} [o]
 * @param {string|null} [o.sub]   words after the brand ("Organizer"); default the header's data-sub
 * @param {string|null} [o.home]  where the brand leads; default data-home; none: the brand is no link
 * @param {Node[]} [o.start]      right after the brand
 * @param {Node[]} [o.end]        at the far end of the bar
 * @returns {HTMLElement|null} the bar
 */
export function renderShell({ sub, home, start = [], end = [] } = {}) {
  ensureSkipLink();
  const bar = document.querySelector("header.appbar");
  if (!bar) return null;
  const words = sub !== undefined ? sub : bar.dataset.sub ? t(bar.dataset.sub) : null;
  const href = home !== undefined ? home : bar.dataset.home || null;
  const brand = el(href ? "a" : "span", { class: "brand", href: href || undefined },
    el("span", { class: "brand-mark", "aria-hidden": "true" }, "M"), el("span", { class: "brand-name" }, "MIRP"),
    // the space keeps "MIRP Organizer" two words for screen readers (flex hides it on screen)
    words ? [" ", el("span", { class: "brand-sub" }, words)] : null);
  bar.replaceChildren(brand, ...start, el("div", { class: "spacer" }), ...end, ...common(bar));
  return bar;
}

/** The Help link and the language picker, at the end of every bar. */
function common(bar) {
  const role = bar.dataset.help || "delegate";
  const picker = el("select", { class: "lang-pick", id: "lang-pick", "aria-label": t("shell.language") },
    ...Object.entries(UI_LANGS).map(([code, name]) => el("option", { value: code, lang: code, selected: code === lang }, name)));
  picker.addEventListener("change", () => chooseLanguage(picker.value));
  return [el("a", { class: "help-link", href: `/help.html#${role}`, id: "help-link" }, t("shell.help")), picker];
}

function ensureSkipLink() {
  if (document.querySelector(".skip-link") || !document.getElementById("main")) return;
  document.body.prepend(el("a", { class: "skip-link", href: "#main" }, t("shell.skip")));
}

renderShell();
