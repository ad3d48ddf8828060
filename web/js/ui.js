// Small DOM helpers shared by every page: element builder, toasts, language names, formatting.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

let toastBox;
export function toast(message, kind = "") {
  if (!toastBox) {
    toastBox = el("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const t = el("div", { class: `toast ${kind}` }, message);
  toastBox.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 7000 : 4000);
}

export function showError(target, err) {
  const msg = err?.message || String(err);
  if (target) {
    target.hidden = false;
    target.className = "alert error";
    target.setAttribute("role", "alert");
    target.textContent = msg;
  } else toast(msg, "error");
}

// --- languages: each shown by its name in the language itself ----------------------------------
const AUTONYMS = {
  ar: "العربية", zh: "中文", en: "English", fr: "Français", es: "Español", ru: "Русский",
  de: "Deutsch", it: "Italiano", pt: "Português", ja: "日本語", ko: "한국어", nl: "Nederlands",
  pl: "Polski", tr: "Türkçe", uk: "Українська", hi: "हिन्दी", sw: "Kiswahili", fa: "فارسی",
  el: "Ελληνικά", sv: "Svenska", fi: "Suomi", da: "Dansk", no: "Norsk", cs: "Čeština",
  hu: "Magyar", ro: "Română", bg: "Български", he: "עברית", id: "Bahasa Indonesia", vi: "Tiếng Việt",
  th: "ไทย", ms: "Bahasa Melayu", bn: "বাংলা", ur: "اردو", am: "አማርኛ", ha: "Hausa",
};
const RTL = new Set(["ar", "fa", "he", "ur"]);

export function langName(code) {
  if (!code) return "";
  if (code === "floor") return "Floor";
  if (AUTONYMS[code]) return AUTONYMS[code];
  try {
    const n = new Intl.DisplayNames([code], { type: "language" }).of(code);
    if (n && n !== code) return n.charAt(0).toLocaleUpperCase(code) + n.slice(1);
  } catch { /* unknown code */ }
  return code.toUpperCase();
}
export function langNameEn(code) {
  if (code === "floor") return "Original";
  try { return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code; } catch { return code; }
}
export const langDir = (code) => (RTL.has(code) ? "rtl" : "ltr");
export function langLabel(code) {
  // a span in the language's own script and direction
  return el("span", { lang: code === "floor" ? undefined : code, dir: code === "floor" ? undefined : langDir(code) }, langName(code));
}
export const COMMON_LANGS = ["en", "fr", "es", "ar", "zh", "ru", "de", "pt", "it", "ja", "ko", "nl", "tr", "uk", "hi", "sw", "fa", "pl"];

export const ROLE_LABEL = {
  organizer: "Organizer", chair: "Chair", delegate: "Delegate", interpreter: "Interpreter", observer: "Observer",
};
export const ROLE_BADGE = { chair: "amber", delegate: "blue", interpreter: "green", observer: "", organizer: "red" };
export const roleBadge = (role) => el("span", { class: `badge ${ROLE_BADGE[role] || ""}` }, ROLE_LABEL[role] || role);
export const STATUS_BADGE = { scheduled: "blue", open: "green", closed: "" };
export const statusBadge = (s) => el("span", { class: `badge ${STATUS_BADGE[s] || ""}` }, s === "open" ? "● Open" : (s || "draft"));

// --- formatting ---------------------------------------------------------------------------------
export function fmtDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
export function fmtRange(a, b) {
  if (!a) return "No date set";
  const s = fmtDate(a);
  if (!b) return s;
  const da = new Date(a), db = new Date(b);
  if (da.toDateString() === db.toDateString()) return `${s} – ${db.toLocaleTimeString(undefined, { timeStyle: "short" })}`;
  return `${s} – ${fmtDate(b)}`;
}
export function fmtClock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
export const fromLocalInput = (v) => (v ? new Date(v).toISOString() : null);
export const initials = (name) => (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join("").toUpperCase();

export async function copyText(text) {
  try { await navigator.clipboard.writeText(text); toast("Link copied", "ok"); }
  catch {
    const ta = el("textarea", { style: "position:fixed;opacity:0" }, text);
    document.body.append(ta); ta.select();
    try { document.execCommand("copy"); toast("Link copied", "ok"); } catch { toast("Copy failed: select the link and copy it", "error"); }
    ta.remove();
  }
}

export function hashParams() {
  return new URLSearchParams(location.hash.replace(/^#/, ""));
}

export function setBusy(button, busy, label) {
  if (!button) return;
  if (busy) { button.dataset.label = button.textContent; button.disabled = true; if (label) button.textContent = label; }
  else { button.disabled = false; if (button.dataset.label) button.textContent = button.dataset.label; }
}
