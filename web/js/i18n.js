// The interface's language: one message catalogue per language in web/i18n/<code>.json (flat keys,
// `{name}` placeholders, plural forms as {"one": …, "other": …} picked with Intl.PluralRules),
// edited by translators without touching code (docs/i18n.md). The language is the user's choice
// (the picker in the app bar, remembered in localStorage), else the browser's first language we
// have, else English; a key missing in a language falls back to English, so a catalogue that lags
// behind shows English words rather than keys.
//
// The catalogues load with a top-level await: every module that imports this one runs after they
// are in, so `t()` is synchronous everywhere. Under node (the unit tests) it reads the files.

/** The interface languages, each named in itself (the six official languages of the UN). */
export const UI_LANGS = { ar: "العربية", zh: "中文", en: "English", fr: "Français", ru: "Русский", es: "Español" };
const RTL = new Set(["ar"]);
const STORE = "mirp.lang";
const FALLBACK = "en";

async function loadCatalogue(code) {
  if (typeof window === "undefined") { // node: the unit tests
    const { readFileSync } = await import("node:fs");
    return JSON.parse(readFileSync(new URL(`../i18n/${code}.json`, import.meta.url), "utf8"));
  }
  const res = await fetch(`/i18n/${code}.json`, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`catalogue ${code}: HTTP ${res.status}`);
  return res.json();
}

/** The language to show: the stored choice, else the browser's first one we have, else English. */
export function pickLanguage(stored, browser) {
  if (stored && UI_LANGS[stored]) return stored;
  for (const tag of browser || []) {
    const base = String(tag).toLowerCase().split(/[-_]/)[0];
    if (UI_LANGS[base]) return base;
  }
  return FALLBACK;
}

function storedChoice() {
  try { return localStorage.getItem(STORE); } catch { return null; }
}

export let lang = typeof window === "undefined" ? FALLBACK : pickLanguage(storedChoice(), navigator.languages || [navigator.language]);
// without the English catalogue (a network error), the pages keep the English of their HTML
const catalogues = { [FALLBACK]: await loadCatalogue(FALLBACK).catch((e) => { console.warn(e); return {}; }) };
if (lang !== FALLBACK) {
  try { catalogues[lang] = await loadCatalogue(lang); } catch (e) { console.warn(e); lang = FALLBACK; }
}
export const dir = RTL.has(lang) ? "rtl" : "ltr";

const plurals = new Map();
function pluralForm(code, n) {
  if (!plurals.has(code)) plurals.set(code, new Intl.PluralRules(code));
  return plurals.get(code).select(n);
}

/** Fill `{name}` placeholders; a number is written the language's way. */
export function format(text, vars = {}, code = lang) {
  return text.replace(/\{(\w+)\}/g, (all, name) => {
    if (!(name in vars)) return all;
    const v = vars[name];
    return typeof v === "number" ? v.toLocaleString(code) : String(v);
  });
}

function lookup(code, key, vars) {
  const entry = catalogues[code]?.[key];
  if (entry == null) return null;
  if (typeof entry === "string") return entry;
  // plural forms: chosen by `count` (the language's own categories: Arabic has six)
  const n = Number(vars?.count ?? 0);
  return entry[pluralForm(code, n)] ?? entry.other ?? null;
}

/**
 * The text for `key` in the user's language, placeholders filled from `vars`.
 * @param {string} key
 * @param {Record<string, string|number>} [vars]
 * @returns {string}
 */
export function t(key, vars) {
  let text = lookup(lang, key, vars);
  let code = lang;
  if (text == null) { text = lookup(FALLBACK, key, vars); code = FALLBACK; }
  if (text == null) return key;
  return format(text, vars, code);
}

/** A place in a list as the language writes it: 1st, 2nd (English), 1er, 2e (French), 3.º…
 * The form is picked with the ordinal rules (`ordinal.one|two|few|other`, `{n}` the number). */
export function ordinal(n) {
  const form = new Intl.PluralRules(lang, { type: "ordinal" }).select(n);
  return has(`ordinal.${form}`) ? t(`ordinal.${form}`, { n }) : t("ordinal.other", { n });
}

/** Whether the catalogue knows `key` (e.g. a server error code with its own wording). */
export const has = (key) => catalogues[FALLBACK][key] != null;

/**
 * The words for a server error ({code, message, details}, docs/api.md): the page's own wording
 * for the code (`<scope>.<code>`), else the refusal's reason (`error.reason.<reason>`), else, in
 * English, the server's message (precise, and English), else the code's general wording
 * (`error.<code>`), else the server's message.
 */
export function errorText(err, scope = null) {
  const code = err?.code, reason = err?.details?.reason;
  if (scope && code && has(`${scope}.${code}`)) return t(`${scope}.${code}`);
  if (reason && has(`error.reason.${reason}`)) return t(`error.reason.${reason}`);
  if (err?.message && lang === FALLBACK) return err.message;
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  return err?.message || String(code || err);
}

/** Translate the static HTML: `data-i18n="key"` sets the text (`data-i18n-html` the markup, for
 * the few texts with <kbd> or <strong> inside); `data-i18n-attr="aria-label:key; placeholder:key"`
 * sets attributes. */
export function applyI18n(root = document) {
  // a key no catalogue has leaves the HTML's own (English) words in place
  for (const node of root.querySelectorAll("[data-i18n]")) if (has(node.dataset.i18n)) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-html]")) if (has(node.dataset.i18nHtml)) node.innerHTML = t(node.dataset.i18nHtml);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key && has(key)) node.setAttribute(attr, t(key));
    }
  }
}

/** Remember the user's choice and show the page again in it (a reload: every text the page built
 * is built again; a live page reconnects to the same seat). */
export function chooseLanguage(code) {
  if (!UI_LANGS[code] || code === lang) return;
  try { localStorage.setItem(STORE, code); } catch { /* storage off: this page only */ }
  location.reload();
}

if (typeof document !== "undefined") {
  document.documentElement.lang = lang;
  document.documentElement.dir = dir;
  const title = document.querySelector("title[data-i18n]");
  if (title && has(title.dataset.i18n)) document.title = t(title.dataset.i18n);
  applyI18n();
}
