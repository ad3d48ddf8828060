// Chair page: the speakers list, give/take the floor, time limit, mute, floor language,
// open/close the meeting, remove participants, and the interpreters' slow-down notices.
import { startLive, participantRow } from "./live.js";
import { setupListening } from "./listen.js";
import { el, $, langName, fmtCountdown, icon, toast, patch } from "./ui.js";
import { levelMeter } from "./meter.js";
import { t, errorText } from "./i18n.js";
import { setupDevices } from "./devices.js";

const live = startLive({ render, onEvent });
const renderListening = live ? setupListening(live) : () => {};
setupDevices(live, $("#devices"));
const LIMITS = [null, 60, 120, 180, 300];
let stopMicMeter = null, micMeterOn = null;

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(errorText(msg), "error");
  if (effect?.notice) toast(effect.notice);
}
const P = (state, id) => state.participants.get(id) || { id, name: t("common.participant") };
const nameOf = (state, id) => { const p = P(state, id); return `${p.name}${p.delegation ? ` (${p.delegation})` : ""}`; };

function render(state) {
  if (!live) return;
  const { proto } = live;
  const myId = state.me.id;
  $("#m-title").textContent = state.meeting.title || t("common.meeting");
  document.title = `${t("role.chair")} — ${state.meeting.title || t("common.meeting")}`;
  const holders = state.floor.holders;
  const remaining = state.floor.deadline ? (state.floor.deadline - Date.now()) / 1000 : null;

  // meeting actions
  const open = state.meeting.status === "open";
  patch($("#meeting-actions"), String(open), () => (open
    ? el("button", { class: "btn", type: "button", id: "close-meeting", onclick: () => confirm(t("chair.close_confirm")) && proto.closeMeeting() }, t("chair.close"))
    : el("button", { class: "btn success", type: "button", id: "open-meeting", onclick: () => proto.openMeeting() }, t("chair.open"))));

  // floor language
  const fl = $("#floor-language");
  const want = ["", ...state.meeting.languages];
  if (fl.dataset.opts !== want.join(",")) {
    fl.dataset.opts = want.join(",");
    fl.replaceChildren(...want.map((l) => el("option", { value: l }, l ? langName(l) : t("console.auto"))));
    fl.onchange = () => proto.setFloorLanguage(fl.value || null);
  }
  if (document.activeElement !== fl) fl.value = state.floor.language || "";

  // current speaker(s)
  patch($("#holder"), JSON.stringify([holders.map((h) => nameOf(state, h)), holders, remaining != null]), () => (holders.length ? holders.map((h) => el("div", { class: "now-speaking", style: "margin-bottom:8px" },
    el("span", { class: "avatar speaking", "aria-hidden": "true" }, icon("mic", 16)),
    el("div", { class: "grow" }, el("div", { class: "label" }, t("chair.has_floor")), el("div", { class: "n" }, h === myId ? t("common.you") : nameOf(state, h))),
    remaining != null ? el("div", { class: "timer", "data-timer": "1", "aria-hidden": "true", style: "font-weight:800;font-size:1.3rem;font-variant-numeric:tabular-nums" }) : null,
    el("button", { class: "btn danger", type: "button", "data-take": h, "aria-label": h === myId ? t("chair.take_floor_self") : t("chair.take_floor_from", { name: nameOf(state, h) }), onclick: () => proto.takeFloor(h) }, t("chair.take_floor")))) :
    [el("div", { class: "now-speaking" }, el("span", { class: "avatar", "aria-hidden": "true" }, icon("micoff", 16)), el("div", { class: "n muted" }, t("live.nobody_floor")))]));
  for (const tm of document.querySelectorAll("[data-timer]")) { tm.textContent = fmtCountdown(remaining ?? 0); tm.classList.toggle("over", remaining != null && remaining < 15); }

  // time limit
  patch($("#limits"), String(state.floor.time_limit_s ?? null), () => LIMITS.map((s) => el("button", { type: "button", role: "radio", "aria-checked": String((state.floor.time_limit_s ?? null) === s),
    onclick: () => proto.setTimeLimit(s) }, s === null ? t("chair.no_limit") : t("unit.min", { count: s / 60 }))));

  // hybrid meetings: where the floor is, once a meeting room is connected (docs/venue.md)
  const hasRoom = [...state.participants.values()].some((p) => p.role === "room");
  $("#floor-room-row").hidden = !hasRoom;
  patch($("#floor-room"), String(state.floor.room), () => ["room", "remote", "both"].map((mode) =>
    el("button", { type: "button", role: "radio", "data-floor-room": mode, "aria-checked": String(state.floor.room === mode), onclick: () => proto.setFloorRoom(mode) }, t(`chair.floor_room.${mode}`))));

  // speakers list
  const sp = state.floor.speakers;
  $("#next-speaker").disabled = !sp.length;
  $("#next-speaker").onclick = () => sp[0] && proto.giveFloor(sp[0].participant_id);
  const move = (i, d) => { const ids = sp.map((s) => s.participant_id); const [x] = ids.splice(i, 1); ids.splice(i + d, 0, x); proto.reorder(ids); };
  patch($("#speakers"), JSON.stringify(sp.map((s) => [s.participant_id, s.kind, nameOf(state, s.participant_id)])), () => (sp.length ? sp.map((s, i) => el("li", { class: "speaker", "data-speaker": s.participant_id },
    el("span", { class: "pos" }, String(i + 1)),
    el("div", { class: "who" }, el("div", { class: "n" }, nameOf(state, s.participant_id)),
      s.kind === "point_of_order" ? el("div", { class: "d" }, el("span", { class: "badge red" }, t("live.point_of_order"))) : null),
    el("div", { class: "btn-group" },
      el("button", { class: "btn small ghost icon", type: "button", disabled: i === 0, "aria-label": t("chair.move_up", { name: P(state, s.participant_id).name }), onclick: () => move(i, -1) }, "↑"),
      el("button", { class: "btn small ghost icon", type: "button", disabled: i === sp.length - 1, "aria-label": t("chair.move_down", { name: P(state, s.participant_id).name }), onclick: () => move(i, 1) }, "↓"),
      el("button", { class: "btn small primary", type: "button", "data-give": s.participant_id, onclick: () => proto.giveFloor(s.participant_id) }, t("chair.give_floor"))))) :
    [el("li", { class: "muted" }, t("chair.nobody_asked"))]));

  // the chair's own microphone: the chair gives the floor to themselves
  const iHave = holders.includes(myId);
  live.rtc.setMicEnabled(iHave && !state.floor.muted.includes(myId));
  patch($("#self-state"), String(iHave), () => (iHave ? el("span", { class: "badge live" }, t("chair.live_dot")) : el("span", { class: "badge" }, t("listen.under_off"))));
  if (iHave && !$("#self-live")) {
    $("#self").dataset.key = "live";
    $("#self").replaceChildren(el("div", { class: "mic-live", id: "self-live", role: "alert" }, icon("mic", 24), el("div", { class: "big" }, t("delegate.mic_live")),
      el("div", { class: "meter", role: "meter", "aria-label": t("live.mic_level") }, el("div", { class: "fill", id: "self-fill" }))),
      el("div", { class: "row end", style: "margin-top:12px" }, el("button", { class: "btn", type: "button", onclick: () => proto.takeFloor(myId) }, t("chair.stop_speaking"))));
  }
  // the meter follows the microphone, which the audio devices panel may change
  if (iHave && live.rtc.mic && live.rtc.mic !== micMeterOn) { stopMicMeter?.(); micMeterOn = live.rtc.mic; stopMicMeter = levelMeter(micMeterOn, $("#self-fill")); }
  if (!iHave) {
    stopMicMeter?.(); stopMicMeter = null; micMeterOn = null;
    patch($("#self"), "off", () => el("button", { class: "btn primary block large", type: "button", id: "chair-speak", onclick: () => proto.giveFloor(myId) }, icon("mic"), t("chair.speak")));
  }

  // participants
  const people = [...state.participants.values()].sort((a, b) => (b.connected !== false) - (a.connected !== false));
  $("#people-count").textContent = String(people.filter((p) => p.connected !== false).length);
  const peopleKey = JSON.stringify([people.map((p) => [p.id, p.name, p.delegation, p.role, p.booth, p.connected, p.quality, p.camera]), holders, state.floor.muted]);
  patch($("#people"), peopleKey, () => people.map((p) => participantRow(p, { speaking: holders.includes(p.id), lineQuality: true, camera: true, extra: p.id === myId ? el("span", { class: "badge amber" }, t("common.you")) :
    el("div", { class: "btn-group" },
      holders.includes(p.id) ? (state.floor.muted.includes(p.id)
        ? el("button", { class: "btn small", type: "button", "data-unmute": p.id, "aria-label": t("chair.unmute_name", { name: p.name }), onclick: () => proto.mute(p.id, false) }, t("chair.unmute"))
        : el("button", { class: "btn small", type: "button", "data-mute": p.id, "aria-label": t("chair.mute_name", { name: p.name }), onclick: () => proto.mute(p.id) }, t("delegate.mute"))) : null,
      el("button", { class: "btn small ghost danger-text", type: "button", "aria-label": t("chair.remove_name", { name: p.name }), onclick: () => confirm(t("chair.remove_confirm", { name: p.name })) && proto.removeParticipant(p.id) }, t("common.remove"))) })));

  // slow-down notices (the last few, fresh ones)
  const fresh = state.notices.filter((n) => Date.now() - n.at < 20000).slice(-3);
  patch($("#notices"), JSON.stringify(fresh.map((n) => [n.at, n.text])), () => fresh.map((n) => el("div", { class: "alert warn", role: "alert" }, icon("alert", 18), " ", n.text)));
  renderListening();
}
setInterval(() => live && !live.state.ended && render(live.state), 1000);
