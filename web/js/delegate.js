// Delegate (and observer) page: listen in a language, ask for the floor, speak when given it.
import { startLive, participantRow } from "./live.js";
import { setupListening } from "./listen.js";
import { el, $, langName, fmtCountdown, icon, toast, patch, announce } from "./ui.js";
import { levelMeter } from "./meter.js";

const live = startLive({ render, onEvent });
const renderListening = live ? setupListening(live) : () => {};
let stopMicMeter = null;
let wasLive = false;
let lastMark = null;
// the floor is given with the microphone muted: the speaker unmutes when ready (client side: the
// track's `enabled`; the server forwards nothing from a disabled track, as from the chair's mute)
let selfMuted = true;

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(msg.message || msg.code, "error");
  if (effect?.kind === "time_up") toast(effect.notice);
}

function speakerName(state, id) {
  const p = state.participants.get(id);
  return p ? `${p.name}${p.delegation ? ` (${p.delegation})` : ""}` : "A participant";
}

function render(state) {
  if (!live) return;
  document.title = `${state.meeting.title || "Meeting"} — MIRP`;
  $("#page-title").textContent = state.meeting.title || "Meeting";
  const myId = state.me.id;
  const canSpeak = state.me.role !== "observer";
  const holders = state.floor.holders;
  const iHaveFloor = holders.includes(myId);
  const myIdx = state.floor.speakers.findIndex((s) => s.participant_id === myId);
  const remaining = state.floor.deadline ? (state.floor.deadline - Date.now()) / 1000 : null;

  $("#floor-lang").textContent = state.floor.language ? `Floor language: ${langName(state.floor.language)}` : "Floor language: —";
  $("#floor-lang").hidden = !state.floor.language;

  // who speaks now (the countdown is updated in place: the live region only hears who changed)
  const speaking = holders.map((h) => (h === myId ? "You" : speakerName(state, h))).join(", ");
  patch($("#now-speaking"), JSON.stringify([speaking, remaining != null && !iHaveFloor]), () => holders.length
    ? el("div", { class: "now-speaking" }, el("span", { class: "avatar speaking", "aria-hidden": "true" }, icon("mic", 16)),
      el("div", { class: "grow" }, el("div", { class: "label" }, "Speaking now"), el("div", { class: "n" }, speaking)),
      remaining != null && !iHaveFloor ? el("div", { class: "timer", id: "floor-timer", "aria-hidden": "true", style: "font-weight:750;font-variant-numeric:tabular-nums" }) : null)
    : el("div", { class: "now-speaking" }, el("span", { class: "avatar", "aria-hidden": "true" }, icon("micoff", 16)),
      el("div", {}, el("div", { class: "label" }, "Speaking now"), el("div", { class: "n muted" }, "Nobody has the floor"))));
  if ($("#floor-timer")) { $("#floor-timer").textContent = fmtCountdown(remaining ?? 0); $("#floor-timer").classList.toggle("over", remaining != null && remaining < 15); }

  // my floor
  const mine = $("#my-floor");
  const mutedByChair = iHaveFloor && state.floor.muted.includes(myId);
  if (!iHaveFloor) selfMuted = true; // the next floor starts muted again
  live.rtc.setMicEnabled(iHaveFloor && !mutedByChair && !selfMuted);
  if (!canSpeak) {
    patch(mine, "observer", () => el("p", { class: "muted" }, "You are an observer: you listen, and do not take the floor."));
  } else if (iHaveFloor) {
    if (!$("#mic-live")) {
      mine.dataset.key = "live";
      mine.replaceChildren(
        el("div", { class: "mic-live", id: "mic-live", role: "alert" }, icon("mic", 28),
          el("div", {}, el("div", { class: "big" }, "Your microphone is live"), el("div", { class: "small" }, "Everyone hears you now.")),
          el("div", { class: "meter", role: "meter", "aria-label": "Your microphone level" }, el("div", { class: "fill", id: "my-mic-fill" })),
          el("div", { class: "timer", id: "my-timer", "aria-hidden": "true" })),
        el("div", { class: "row end", style: "margin-top:12px" },
          el("button", { class: "btn primary large", type: "button", id: "self-mute", onclick: () => { selfMuted = !selfMuted; render(live.state); } }),
          el("button", { class: "btn", type: "button", id: "finish", onclick: () => live.proto.withdrawFloor() }, "I have finished")));
      if (live.rtc.mic) stopMicMeter = levelMeter(live.rtc.mic, $("#my-mic-fill"));
    }
    $("#mic-live").classList.toggle("muted", mutedByChair || selfMuted);
    $("#mic-live").classList.toggle("self-muted", selfMuted && !mutedByChair);
    $("#mic-live .big").textContent = mutedByChair ? "The chair muted your microphone" : selfMuted ? "You have the floor — your microphone is muted" : "Your microphone is live";
    $("#mic-live .small").textContent = mutedByChair ? "You keep the floor; nobody hears you until the chair unmutes you."
      : selfMuted ? "Unmute to speak: nobody hears you until you do." : "Everyone hears you now.";
    const sm = $("#self-mute");
    sm.hidden = mutedByChair;
    sm.setAttribute("aria-pressed", String(selfMuted));
    const smLabel = selfMuted ? "Unmute to speak" : "Mute";
    if (sm.textContent !== smLabel) sm.replaceChildren(icon(selfMuted ? "mic" : "micoff"), smLabel);
    sm.classList.toggle("primary", selfMuted);
    const t = $("#my-timer");
    t.textContent = remaining != null ? fmtCountdown(remaining) : "";
    t.classList.toggle("over", remaining != null && remaining < 15);
    // screen readers hear the countdown at a few thresholds, not every second
    const mark = remaining == null ? null : remaining <= 0.5 ? 0 : remaining <= 15 ? 15 : remaining <= 30 ? 30 : remaining <= 60 ? 60 : null;
    if (mark !== lastMark) { lastMark = mark; if (mark != null) announce(mark ? `${mark} seconds of speaking time left.` : "Your speaking time is up."); }
  } else {
    stopMicMeter?.(); stopMicMeter = null;
    const requested = myIdx >= 0;
    patch(mine, JSON.stringify(["wait", myIdx]), () => [el("div", { class: "floor-actions" },
      requested
        ? el("button", { class: "btn large block", type: "button", id: "withdraw", onclick: () => live.proto.withdrawFloor() }, icon("x"), "Withdraw my request")
        : el("button", { class: "btn primary large block", type: "button", id: "request-floor", onclick: () => live.proto.requestFloor() }, icon("hand"), "Request the floor"),
      el("button", { class: "btn large", type: "button", id: "point-of-order", title: "Point of order", onclick: () => live.proto.pointOfOrder() }, icon("alert"), "Point of order")),
    requested ? el("p", { class: "muted small", style: "margin:10px 0 0", role: "status" },
      `You are number ${myIdx + 1} on the speakers list. When the chair gives you the floor, unmute to speak.`) : null]);
  }
  if (wasLive !== iHaveFloor) { wasLive = iHaveFloor; if (iHaveFloor) { toast("You have the floor. Unmute to speak."); requestAnimationFrame(() => $("#self-mute")?.focus()); } }

  // speakers list
  const sp = state.floor.speakers;
  $("#speakers-count").textContent = String(sp.length);
  const spKey = JSON.stringify(sp.map((s) => [s.participant_id, s.kind, speakerName(state, s.participant_id)]).concat([myId]));
  patch($("#speakers"), spKey, () => (sp.length ? sp.map((s, i) => el("li", {},
    el("span", { class: "pos" }, String(i + 1)),
    el("div", { class: "who" }, el("div", { class: "n" }, s.participant_id === myId ? "You" : speakerName(state, s.participant_id)),
      s.kind === "point_of_order" ? el("div", { class: "d" }, el("span", { class: "badge red" }, "Point of order")) : null))) :
    [el("li", { class: "muted" }, "Nobody is waiting.")]));

  // participants
  const people = [...state.participants.values()].sort((a, b) => (b.connected !== false) - (a.connected !== false));
  $("#people-count").textContent = String(people.filter((p) => p.connected !== false).length);
  patch($("#people"), JSON.stringify([people.map((p) => [p.id, p.name, p.delegation, p.role, p.booth, p.connected, p.quality]), holders]),
    () => people.map((p) => participantRow(p, { speaking: holders.includes(p.id), lineQuality: p.id === myId })));

  renderListening();
  // slow-down notice for the floor speaker
  const notice = state.notices.at(-1);
  const sd = $("#slowdown");
  if (iHaveFloor && notice && notice.kind === "slow_down" && Date.now() - notice.at < 8000) { sd.hidden = false; sd.textContent = "Please slow down: the interpreters ask you to speak more slowly."; }
  else sd.hidden = true;
}

setInterval(() => live && !live.state.ended && live.state.floor.deadline && render(live.state), 500);
