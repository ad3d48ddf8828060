// Delegate (and observer) page: listen in a language, ask for the floor, speak when given it.
import { startLive, participantRow } from "./live.js";
import { setupListening } from "./listen.js";
import { el, $, langName, fmtCountdown, icon, toast, patch, announce } from "./ui.js";
import { levelMeter } from "./meter.js";
import { t, errorText } from "./i18n.js";
import { setupCaptions } from "./captions.js";
import { setupDevices } from "./devices.js";
import { mountFloorVideo } from "./video.js";

const live = startLive({ render, onEvent });
if (live) mountFloorVideo(live.video, $("#floor-video"), $("#video-toggle"));
const renderListening = live ? setupListening(live) : () => {};
if (live) setupCaptions(live);
setupDevices(live, $("#devices"));
let stopMicMeter = null, micMeterOn = null;
let wasLive = false;
let lastMark = null;
// the floor is given with the microphone muted: the speaker unmutes when ready (client side: the
// track's `enabled`; the server forwards nothing from a disabled track, as from the chair's mute)
let selfMuted = true;

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(errorText(msg), "error");
  if (effect?.kind === "time_up") toast(effect.notice);
}

function speakerName(state, id) {
  const p = state.participants.get(id);
  return p ? `${p.name}${p.delegation ? ` (${p.delegation})` : ""}` : t("live.a_participant");
}

function render(state) {
  if (!live) return;
  document.title = `${state.meeting.title || t("common.meeting")} — MIRP`;
  $("#page-title").textContent = state.meeting.title || t("common.meeting");
  const myId = state.me.id;
  const canSpeak = state.me.role !== "observer";
  const holders = state.floor.holders;
  const iHaveFloor = holders.includes(myId);
  const myIdx = state.floor.speakers.findIndex((s) => s.participant_id === myId);
  const remaining = state.floor.deadline ? (state.floor.deadline - Date.now()) / 1000 : null;

  $("#floor-lang").textContent = t("delegate.floor_language", { language: state.floor.language ? langName(state.floor.language) : "—" });
  $("#floor-lang").hidden = !state.floor.language;

  // who speaks now (the countdown is updated in place: the live region only hears who changed)
  const speaking = holders.map((h) => (h === myId ? t("common.you") : speakerName(state, h))).join(", ");
  patch($("#now-speaking"), JSON.stringify([speaking, remaining != null && !iHaveFloor]), () => holders.length
    ? el("div", { class: "now-speaking" }, el("span", { class: "avatar speaking", "aria-hidden": "true" }, icon("mic", 16)),
      el("div", { class: "grow" }, el("div", { class: "label" }, t("live.speaking_now")), el("div", { class: "n" }, speaking)),
      remaining != null && !iHaveFloor ? el("div", { class: "timer", id: "floor-timer", "aria-hidden": "true", style: "font-weight:750;font-variant-numeric:tabular-nums" }) : null)
    : el("div", { class: "now-speaking" }, el("span", { class: "avatar", "aria-hidden": "true" }, icon("micoff", 16)),
      el("div", {}, el("div", { class: "label" }, t("live.speaking_now")), el("div", { class: "n muted" }, t("live.nobody_floor")))));
  if ($("#floor-timer")) { $("#floor-timer").textContent = fmtCountdown(remaining ?? 0); $("#floor-timer").classList.toggle("over", remaining != null && remaining < 15); }

  // my floor
  const mine = $("#my-floor");
  const mutedByChair = iHaveFloor && state.floor.muted.includes(myId);
  if (!iHaveFloor) selfMuted = true; // the next floor starts muted again
  live.rtc.setMicEnabled(iHaveFloor && !mutedByChair && !selfMuted);
  live.video.setCameraEnabled(iHaveFloor);
  if (!canSpeak) {
    patch(mine, "observer", () => el("p", { class: "muted" }, t("delegate.observer")));
  } else if (iHaveFloor) {
    if (!$("#mic-live")) {
      mine.dataset.key = "live";
      mine.replaceChildren(
        el("div", { class: "mic-live", id: "mic-live", role: "alert" }, icon("mic", 28),
          el("div", {}, el("div", { class: "big" }, t("delegate.mic_live")), el("div", { class: "small" }, t("delegate.everyone_hears"))),
          el("div", { class: "meter", role: "meter", "aria-label": t("live.mic_level") }, el("div", { class: "fill", id: "my-mic-fill" })),
          el("div", { class: "timer", id: "my-timer", "aria-hidden": "true" })),
        el("div", { class: "row end", style: "margin-top:12px" },
          el("button", { class: "btn primary large", type: "button", id: "self-mute", onclick: () => { selfMuted = !selfMuted; render(live.state); } }),
          el("button", { class: "btn", type: "button", id: "finish", onclick: () => live.proto.withdrawFloor() }, t("delegate.finished"))));
    }
    // the meter follows the microphone, which the audio devices panel may change
    if (live.rtc.mic && live.rtc.mic !== micMeterOn) { stopMicMeter?.(); micMeterOn = live.rtc.mic; stopMicMeter = levelMeter(micMeterOn, $("#my-mic-fill")); }
    $("#mic-live").classList.toggle("muted", mutedByChair || selfMuted);
    $("#mic-live").classList.toggle("self-muted", selfMuted && !mutedByChair);
    $("#mic-live .big").textContent = mutedByChair ? t("delegate.muted_by_chair") : selfMuted ? t("delegate.floor_muted") : t("delegate.mic_live");
    $("#mic-live .small").textContent = mutedByChair ? t("delegate.muted_by_chair_detail")
      : selfMuted ? t("delegate.floor_muted_detail") : t("delegate.everyone_hears");
    const sm = $("#self-mute");
    sm.hidden = mutedByChair;
    sm.setAttribute("aria-pressed", String(selfMuted));
    const smLabel = selfMuted ? t("delegate.unmute") : t("delegate.mute");
    if (sm.textContent !== smLabel) sm.replaceChildren(icon(selfMuted ? "mic" : "micoff"), smLabel);
    sm.classList.toggle("primary", selfMuted);
    const timer = $("#my-timer");
    timer.textContent = remaining != null ? fmtCountdown(remaining) : "";
    timer.classList.toggle("over", remaining != null && remaining < 15);
    // screen readers hear the countdown at a few thresholds, not every second
    const mark = remaining == null ? null : remaining <= 0.5 ? 0 : remaining <= 15 ? 15 : remaining <= 30 ? 30 : remaining <= 60 ? 60 : null;
    if (mark !== lastMark) { lastMark = mark; if (mark != null) announce(mark ? t("delegate.seconds_left", { count: mark }) : t("notice.time_up_you")); }
  } else {
    stopMicMeter?.(); stopMicMeter = null; micMeterOn = null;
    const requested = myIdx >= 0;
    patch(mine, JSON.stringify(["wait", myIdx]), () => [el("div", { class: "floor-actions" },
      requested
        ? el("button", { class: "btn large block", type: "button", id: "withdraw", onclick: () => live.proto.withdrawFloor() }, icon("x"), t("delegate.withdraw"))
        : el("button", { class: "btn primary large block", type: "button", id: "request-floor", onclick: () => live.proto.requestFloor() }, icon("hand"), t("delegate.request")),
      el("button", { class: "btn large", type: "button", id: "point-of-order", title: t("live.point_of_order"), onclick: () => live.proto.pointOfOrder() }, icon("alert"), t("live.point_of_order"))),
    requested ? el("p", { class: "muted small", style: "margin:10px 0 0", role: "status" },
      t("delegate.position", { position: myIdx + 1 })) : null]);
  }
  if (wasLive !== iHaveFloor) { wasLive = iHaveFloor; if (iHaveFloor) { toast(t("delegate.you_have_floor")); requestAnimationFrame(() => $("#self-mute")?.focus()); } }

  // speakers list
  const sp = state.floor.speakers;
  $("#speakers-count").textContent = String(sp.length);
  const spKey = JSON.stringify(sp.map((s) => [s.participant_id, s.kind, speakerName(state, s.participant_id)]).concat([myId]));
  patch($("#speakers"), spKey, () => (sp.length ? sp.map((s, i) => el("li", {},
    el("span", { class: "pos" }, String(i + 1)),
    el("div", { class: "who" }, el("div", { class: "n" }, s.participant_id === myId ? t("common.you") : speakerName(state, s.participant_id)),
      s.kind === "point_of_order" ? el("div", { class: "d" }, el("span", { class: "badge red" }, t("live.point_of_order"))) : null))) :
    [el("li", { class: "muted" }, t("delegate.nobody_waiting"))]));

  // participants
  const people = [...state.participants.values()].sort((a, b) => (b.connected !== false) - (a.connected !== false));
  $("#people-count").textContent = String(people.filter((p) => p.connected !== false).length);
  patch($("#people"), JSON.stringify([people.map((p) => [p.id, p.name, p.delegation, p.role, p.booth, p.connected, p.quality]), holders]),
    () => people.map((p) => participantRow(p, { speaking: holders.includes(p.id), lineQuality: p.id === myId })));

  renderListening();
  // slow-down notice for the floor speaker
  const notice = state.notices.at(-1);
  const sd = $("#slowdown");
  if (iHaveFloor && notice && notice.kind === "slow_down" && Date.now() - notice.at < 8000) { sd.hidden = false; sd.textContent = t("delegate.slow_down"); }
  else sd.hidden = true;
}

setInterval(() => live && !live.state.ended && live.state.floor.deadline && render(live.state), 500);
