// Small DOM helpers shared by every page: element builder, toasts, language labels, formatting.
import { langName, langDir } from "./languages.js";
import { t, lang, errorText } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k === "style") node.style.cssText = v; // CSSOM: the CSP refuses style="" attributes
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
  const node = el("div", { class: `toast ${kind}` }, message);
  toastBox.append(node);
  setTimeout(() => node.remove(), kind === "error" ? 7000 : 4000);
}

export function showError(target, err) {
  const msg = errorText(err);
  if (target) {
    target.hidden = false;
    target.className = "alert error";
    target.setAttribute("role", "alert");
    target.textContent = msg;
  } else toast(msg, "error");
}

// --- languages (names in web/js/languages.js, a module without the DOM) -------------------------
export { langName, langNameEn, langNameUi, langDir, COMMON_LANGS } from "./languages.js";
export function langLabel(code) {
  // a span in the language's own script and direction
  return el("span", { lang: code === "floor" ? undefined : code, dir: code === "floor" ? undefined : langDir(code) }, langName(code));
}

export const ROLE_LABEL = Object.fromEntries(["organizer", "chair", "delegate", "interpreter", "observer", "room"].map((r) => [r, t(`role.${r}`)]));
export const ROLE_BADGE = { chair: "amber", delegate: "blue", interpreter: "green", observer: "", organizer: "red" };
export const roleBadge = (role) => el("span", { class: `badge ${ROLE_BADGE[role] || ""}` }, ROLE_LABEL[role] || role);
export const STATUS_BADGE = { scheduled: "blue", open: "green", closed: "" };
export const statusBadge = (s) => el("span", { class: `badge ${STATUS_BADGE[s] || ""}` }, s === "open" ? t("status.open_dot") : t(`status.${s || "draft"}`));

// --- formatting ---------------------------------------------------------------------------------
export function fmtDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}
export function fmtRange(a, b) {
  if (!a) return t("common.no_date");
  const s = fmtDate(a);
  if (!b) return s;
  const da = new Date(a), db = new Date(b);
  if (da.toDateString() === db.toDateString()) return `${s} – ${db.toLocaleTimeString(lang, { timeStyle: "short" })}`;
  return `${s} – ${fmtDate(b)}`;
}
export function fmtClock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
/** A speaking-time countdown: "1:05" while time is left, "+0:12" once it is over (the server does
 * not take the floor at 0:00, so the speaker and the chair see how far over they are). */
export function fmtCountdown(remaining) {
  const over = Math.round(remaining) < 0;
  return over ? `+${fmtClock(-remaining)}` : fmtClock(remaining);
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
  try { await navigator.clipboard.writeText(text); toast(t("common.copied"), "ok"); }
  catch {
    const ta = el("textarea", { style: "position:fixed;opacity:0" }, text);
    document.body.append(ta); ta.select();
    try { document.execCommand("copy"); toast(t("common.copied"), "ok"); } catch { toast(t("common.copy_failed"), "error"); }
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

// --- icons (inline SVG, stroke style; no icon font, no emoji font needed) ----------------------
const ICONS = {
  headphones: '<path d="M3 18v-6a9 9 0 0 1 18 0v6"/><path d="M21 19a2 2 0 0 1-2 2h-1v-7h3zM3 19a2 2 0 0 0 2 2h1v-7H3z"/>',
  mic: '<rect x="9" y="2" width="6" height="12" rx="3"/><path d="M5 10v1a7 7 0 0 0 14 0v-1M12 18v4M8 22h8"/>',
  micoff: '<path d="M1 1l22 22M9 9v2a3 3 0 0 0 5.1 2.1M15 9.3V5a3 3 0 0 0-5.9-.6"/><path d="M17 16.9A7 7 0 0 1 5 11v-1M19 10v1a7 7 0 0 1-.1 1.2M12 18v4M8 22h8"/>',
  lock: '<rect x="4" y="11" width="16" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
  check: '<circle cx="12" cy="12" r="10"/><path d="M8 12.5l2.5 2.5L16 9.5"/>',
  pause: '<circle cx="12" cy="12" r="10"/><path d="M10 8v8M14 8v8"/>',
  calendar: '<rect x="3" y="4" width="18" height="18" rx="2"/><path d="M16 2v4M8 2v4M3 10h18"/>',
  clipboard: '<rect x="6" y="4" width="12" height="18" rx="2"/><path d="M9 2h6v4H9zM9 12h6M9 16h4"/>',
  hand: '<path d="M18 11V6a2 2 0 0 0-4 0M14 10V4a2 2 0 0 0-4 0v2M10 10.5V6a2 2 0 0 0-4 0v8"/><path d="M18 8a2 2 0 1 1 4 0v6a8 8 0 0 1-8 8h-2c-2.8 0-4.5-.9-6-2.4l-3.6-3.6a2 2 0 0 1 2.8-2.8L7 15"/>',
  alert: '<path d="M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0zM12 9v4M12 17h.01"/>',
  users: '<path d="M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/><path d="M23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8"/>',
  globe: '<circle cx="12" cy="12" r="10"/><path d="M2 12h20M12 2a15 15 0 0 1 0 20M12 2a15 15 0 0 0 0 20"/>',
  volume: '<path d="M11 5L6 9H2v6h4l5 4zM15.5 8.5a5 5 0 0 1 0 7M19 5a10 10 0 0 1 0 14"/>',
  swap: '<path d="M17 1l4 4-4 4M3 11V9a4 4 0 0 1 4-4h14M7 23l-4-4 4-4M21 13v2a4 4 0 0 1-4 4H3"/>',
  turtle: '<path d="M4 12h16M12 4v16"/><circle cx="12" cy="12" r="10"/>',
  wifi: '<path d="M5 12.5a10 10 0 0 1 14 0M8.5 16a5 5 0 0 1 7 0M12 19.5h.01M1.5 9a15 15 0 0 1 21 0"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  x: '<path d="M18 6L6 18M6 6l12 12"/>',
  videooff: '<path d="M2 2l20 20"/><path d="M10 6h4a2 2 0 0 1 2 2v2l5-3v10l-2-1.2M16 16a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h1"/>',
};
export function icon(name, size = 20, label = null) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("class", "icon");
  if (label) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", label); } else svg.setAttribute("aria-hidden", "true");
  svg.innerHTML = ICONS[name] || "";
  return svg;
}
/** Replace every <i data-icon="name"></i> placeholder in static HTML with its SVG. */
export function hydrateIcons(root = document) {
  for (const i of root.querySelectorAll("i[data-icon]")) i.replaceWith(icon(i.dataset.icon, Number(i.dataset.size) || 20));
}
export function emptyState(iconName, title, text, ...extra) {
  return el("div", { class: "empty" }, el("div", { class: "big" }, icon(iconName, 40)), el("h2", {}, title), text ? el("p", {}, text) : null, ...extra);
}

// Radio groups built from buttons (channels, levels, sources, outputs, time limits): the arrow
// keys move the choice, as in a native radio group. One listener for the whole document.
document.addEventListener("keydown", (e) => {
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  const radio = e.target instanceof Element ? e.target.closest('[role="radio"]') : null;
  const group = radio?.closest('[role="radiogroup"]');
  if (!step || !group || e.defaultPrevented) return;
  const radios = [...group.querySelectorAll('[role="radio"]')].filter((r) => !r.disabled);
  const i = radios.indexOf(radio);
  if (i < 0 || radios.length < 2) return;
  e.preventDefault();
  const dir = getComputedStyle(group).direction === "rtl" ? -step : step;
  const next = radios[(i + dir + radios.length) % radios.length];
  const key = next.dataset.channel || next.dataset.source || next.dataset.output || next.textContent;
  next.click();
  next.focus(); // now, so that a second key press at once goes on from the new choice
  // the group may re-render on click: focus the new button for the same choice
  requestAnimationFrame(() => {
    const again = [...group.isConnected ? group.querySelectorAll('[role="radio"]') : []]
      .find((r) => (r.dataset.channel || r.dataset.source || r.dataset.output || r.textContent) === key);
    (again || next).focus();
  });
});

/** Rebuild `node`'s children only when `key` changed: live regions are announced on every change,
 * and pages render several times a second (countdowns), so unchanged lists must stay untouched. */
export function patch(node, key, build) {
  if (!node || node.dataset.key === key) return false;
  node.dataset.key = key;
  // keep the keyboard focus on "the same" control across the rebuild
  const focused = node.contains(document.activeElement) ? controlIdentity(document.activeElement) : null;
  node.replaceChildren(...[build()].flat().filter((c) => c != null));
  if (focused) [...node.querySelectorAll("button, input, select, a[href]")].find((c) => controlIdentity(c) === focused)?.focus();
  return true;
}
const controlIdentity = (c) => c.id || ["channel", "source", "output", "give", "take", "mute", "unmute", "speaker", "partner"]
  .map((k) => c.dataset?.[k] && `${k}:${c.dataset[k]}`).find(Boolean) || c.getAttribute?.("aria-label") || c.textContent;

let announcer;
/** Say `text` to screen readers (a polite live region), once per change. */
export function announce(text) {
  if (!announcer) {
    announcer = el("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    document.body.append(announcer);
  }
  if (announcer.textContent !== text) announcer.textContent = text;
}
