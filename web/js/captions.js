// Live captions of the channel heard (docs/captions.md): the server sends `caption` events to
// those hearing a captioned channel; this module keeps the last lines and shows them in an
// overlay the listener can turn on or off, size and place (top or bottom). Right-to-left
// languages are shown right to left. Floor captions on a channel whose booth is off air are
// marked as such. Settings are kept in localStorage.
// (no import of ui.js: it touches the document when loaded, and the pure part is tested in node)
import { t } from "./i18n.js";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export const RTL = new Set(["ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv"]);
export const SIZES = ["small", "medium", "large"];
const KEEP = 3; // lines on screen
const STORE = "mirp.captions";

export function isRtl(language) { return RTL.has(String(language || "").split("-")[0]); }

/** The lines to show after `msg` (pure): the newest KEEP captions of the channel heard; a
 * change of channel starts afresh. */
export function addCaption(lines, msg, heardChannel) {
  const line = { channel: msg.channel, text: msg.text, language: msg.language, floor: !!msg.floor, end: msg.end };
  const kept = lines.filter((l) => l.heard === heardChannel);
  return [...kept, { ...line, heard: heardChannel }].slice(-KEEP);
}

export function loadSettings(storage = globalThis.localStorage) {
  try {
    const s = JSON.parse(storage?.getItem(STORE) || "{}");
    return { on: s.on !== false, size: SIZES.includes(s.size) ? s.size : "medium", position: s.position === "top" ? "top" : "bottom" };
  } catch { return { on: true, size: "medium", position: "bottom" }; }
}

/** What to show while no caption arrived (pure): the channel heard is not captioned at all, or
 * nothing was said yet. `captioned`: the meeting's captioned channels (welcome: meeting.captions). */
export function placeholder(captioned, heardChannel) {
  if (!heardChannel) return "";
  return (captioned || []).includes(heardChannel) ? "" : t("captions.none");
}

/** Mount the overlay and its controls on a live page (`live` from startLive). */
export function setupCaptions(live, root = document.body) {
  const settings = loadSettings();
  let lines = [];
  const box = el("div", { class: "captions", id: "captions", role: "region", "aria-label": t("captions.region"), "aria-live": "polite" });
  const text = el("div", { class: "captions-text", id: "captions-text" });
  const toggle = el("button", { type: "button", class: "btn btn-sm", id: "captions-toggle", title: t("captions.toggle_title"), "aria-pressed": String(settings.on) }, t("captions.toggle"));
  const size = el("button", { type: "button", class: "btn btn-sm", id: "captions-size", title: t("captions.size") }, "A");
  const place = el("button", { type: "button", class: "btn btn-sm", id: "captions-position", title: t("captions.position") }, "⇅");
  box.append(el("div", { class: "captions-controls" }, toggle, size, place), text);
  root.append(box);

  const save = () => { try { localStorage.setItem(STORE, JSON.stringify(settings)); } catch { /* private mode */ } };
  const paint = () => {
    box.dataset.size = settings.size;
    box.dataset.position = settings.position;
    box.dataset.on = String(settings.on);
    toggle.setAttribute("aria-pressed", String(settings.on));
    Object.assign(box.style, { position: "fixed", left: "50%", transform: "translateX(-50%)", zIndex: "50",
      maxWidth: "min(90vw, 60rem)", [settings.position === "top" ? "top" : "bottom"]: "1rem",
      [settings.position === "top" ? "bottom" : "top"]: "auto" });
    text.hidden = !settings.on;
    text.style.fontSize = { small: "1rem", medium: "1.35rem", large: "1.9rem" }[settings.size];
    const none = lines.length ? "" : placeholder(live.state.meeting?.captions, live.state.heard?.channel ?? null);
    // a meeting without captions shows no overlay at all (nothing to turn on)
    box.hidden = !(live.state.meeting?.captions || []).length;
    if (none) { text.replaceChildren(el("p", { class: "caption-none muted" }, none)); return; }
    text.replaceChildren(...lines.map((l) => el("p", {
      class: `caption-line${l.floor ? " caption-floor" : ""}`, dir: isRtl(l.language) ? "rtl" : "ltr", lang: l.language || null,
    }, l.floor ? el("span", { class: "badge caption-mark" }, t("channel.floor")) : null, l.floor ? " " : null, l.text)));
  };
  toggle.addEventListener("click", () => { settings.on = !settings.on; save(); paint(); });
  size.addEventListener("click", () => { settings.size = SIZES[(SIZES.indexOf(settings.size) + 1) % SIZES.length]; save(); paint(); });
  place.addEventListener("click", () => { settings.position = settings.position === "top" ? "bottom" : "top"; save(); paint(); });
  live.proto.on("caption", (msg) => { lines = addCaption(lines, msg, live.state.heard?.channel ?? null); paint(); });
  live.proto.on("subscribed", () => { lines = []; paint(); });
  live.proto.on("welcome", () => setTimeout(paint, 0)); // after the view took the welcome in
  paint();
  return { get lines() { return lines; } };
}
