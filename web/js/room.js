// The meeting room connector (room.html): the venue's PC between the sound desk and MIRP. Its line
// in is the room feed (a `room` participant, docs/venue.md): raw, with no echo cancellation, noise
// suppression or automatic gain (rtc.js opens every microphone so). Its line out is what the room
// receives: the floor minus the room itself, or a language for the room's interpretation system.
// It runs for hours unattended: the Session and the peer reconnect by themselves (live.js), the
// screen is kept awake, and a lost server is shown so that it is seen across the control room
// (never sounded: this page's output is the PA).
import { startLive } from "./live.js";
import { setupListening } from "./listen.js";
import { loadParticipant } from "./session.js";
import { meterFollowing } from "./meter.js";
import { el, $, patch, toast } from "./ui.js";
import { t, has, errorText } from "./i18n.js";

const INPUT_KEY = "mirp.room.input";
const OUTPUT_KEY = "mirp.room.output";

const me = loadParticipant();
const live = startLive({ render, onEvent });
const renderListening = live ? setupListening(live) : () => {};
let wakeLock = null;
let wakeState = "navigator" in window && "wakeLock" in navigator ? t("room.wake.asking") : t("room.wake.unsupported");
let lostSince = null;
let lostCount = 0;

if (live) {
  const { rtc } = live;
  rtc.setMicEnabled(true); // the room is heard whenever the floor is in the room: the server decides
  rtc.o.micDeviceId = localStorage.getItem(INPUT_KEY) || rtc.o.micDeviceId || null;
  setInterval(meterFollowing(() => rtc.mic, $("#in-fill")), 300);
  setInterval(meterFollowing(() => rtc.remote, $("#out-fill")), 300);
  setInterval(() => live.rerender(), 1000); // the "lost for" clock
  navigator.mediaDevices?.addEventListener?.("devicechange", () => listDevices());
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") keepAwake(); });
  keepAwake();
  listDevices();
  const mid = me?.meeting?.id;
  $("#whip-url").textContent = mid ? `${location.origin}/whip/${mid}` : "";
  $("#whip-token").textContent = me?.participant_token || "";
}

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(errorText(msg), "error");
  if (msg.type === "welcome") setTimeout(listDevices, 500); // labels are known once the mic is open
  if (effect?.notice) toast(effect.notice);
}

async function keepAwake() {
  if (!("wakeLock" in navigator)) return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    wakeState = t("room.wake.on");
    wakeLock.addEventListener("release", () => { wakeState = t("room.wake.released"); live?.rerender(); });
  } catch (e) {
    wakeState = t("room.wake.refused", { error: e.name });
  }
  live?.rerender();
}

async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  fillSelect($("#input-device"), devices.filter((d) => d.kind === "audioinput"), live.rtc.o.micDeviceId, async (id) => {
    localStorage.setItem(INPUT_KEY, id);
    try { await live.rtc.switchMic(id); live.rtc.setMicEnabled(true); } catch (e) { toast(t("room.input_error", { error: e.message }), "error"); }
    live.rerender();
  });
  const out = $("#output-device");
  const canRoute = typeof live.rtc.audio.setSinkId === "function";
  out.disabled = !canRoute;
  fillSelect(out, devices.filter((d) => d.kind === "audiooutput"), localStorage.getItem(OUTPUT_KEY), async (id) => {
    localStorage.setItem(OUTPUT_KEY, id);
    try { await live.rtc.audio.setSinkId(id); } catch (e) { toast(t("room.output_error", { error: e.message }), "error"); }
  });
  const saved = localStorage.getItem(OUTPUT_KEY);
  if (canRoute && saved && devices.some((d) => d.deviceId === saved)) live.rtc.audio.setSinkId(saved).catch(() => {});
}

function fillSelect(select, devices, current, onPick) {
  const key = JSON.stringify(devices.map((d) => [d.deviceId, d.label]));
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...devices.map((d, i) => el("option", { value: d.deviceId }, d.label || t("room.device_n", { n: i + 1 }))));
    select.onchange = () => onPick(select.value);
  }
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
}

function processing(rtc) {
  const track = rtc.mic?.getAudioTracks()[0];
  if (!track) return null;
  const s = track.getSettings?.() || {};
  return { echoCancellation: !!s.echoCancellation, noiseSuppression: !!s.noiseSuppression, autoGainControl: !!s.autoGainControl, label: track.label };
}

/** A state's word in the interface's language, else the state itself. */
const connWord = (c) => (has(`room.conn.${c}`) ? t(`room.conn.${c}`) : c);
const peerWord = (c) => (has(`room.peer.${c}`) ? t(`room.peer.${c}`) : c);

function render(state) {
  if (!live) return;
  const { rtc } = live;
  $("#m-title").textContent = state.meeting.title || t("common.meeting");
  $("#floor-where").textContent = t(`room.where.${state.floor.room || "both"}`);

  // the server lost: loud, at once, until it is back (the page reconnects by itself)
  const lost = (state.welcomes || 0) > 0 && !state.ended && (state.connection !== "open" || state.peer === "failed");
  if (lost && !lostSince) { lostSince = Date.now(); lostCount += 1; }
  if (!lost) lostSince = null;
  $("#server-lost").hidden = !lost;
  document.body.classList.toggle("lost", lost);
  $("#lost-for").textContent = lost ? t("room.lost_for", { count: Math.round((Date.now() - lostSince) / 1000) }) : "";
  document.title = `${lost ? `⚠ ${t("room.lost_short")} — ` : ""}${t("room.tab", { title: state.meeting.title || t("common.meeting") })}`;

  const p = processing(rtc);
  const raw = p && !p.echoCancellation && !p.noiseSuppression && !p.autoGainControl;
  const proc = $("#processing");
  proc.dataset.raw = String(!!raw);
  const onOff = (v) => (v ? t("room.on") : t("room.off"));
  proc.textContent = !p ? t("room.not_open")
    : raw ? t("room.raw")
      : t("room.processed", { echo: onOff(p.echoCancellation), noise: onOff(p.noiseSuppression), gain: onOff(p.autoGainControl) });
  $("#in-state").textContent = p ? t("room.line_in_open") : t("room.no_input");

  const rows = [
    ["Server", t("room.st.server"), connWord(state.connection || "connecting")],
    ["Audio", t("room.st.audio"), peerWord(state.peer || "new")],
    ["Input", t("room.st.input"), p?.label || "—"],
    ["Screen kept awake", t("room.st.wake"), wakeState],
    ["Connection losses", t("room.st.losses"), String(lostCount)],
  ];
  // data-status stays the English name: a stable hook, whatever the language shown
  patch($("#status"), JSON.stringify(rows), () => rows.map(([k, label, v]) => el("li", { "data-status": k }, el("span", {}, label), el("strong", {}, v))));
  renderListening();
}
