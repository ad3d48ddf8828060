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

const INPUT_KEY = "mirp.room.input";
const OUTPUT_KEY = "mirp.room.output";
const WHERE = { room: "The floor is in the room", remote: "The floor is with a remote speaker", both: "The floor: the room and remote speakers" };

const me = loadParticipant();
const live = startLive({ render, onEvent });
const renderListening = live ? setupListening(live) : () => {};
let wakeLock = null;
let wakeState = "navigator" in window && "wakeLock" in navigator ? "asking" : "not supported";
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
  if (msg.type === "error") toast(msg.message || msg.code, "error");
  if (msg.type === "welcome") setTimeout(listDevices, 500); // labels are known once the mic is open
  if (effect?.notice) toast(effect.notice);
}

async function keepAwake() {
  if (!("wakeLock" in navigator)) return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    wakeState = "on";
    wakeLock.addEventListener("release", () => { wakeState = "released"; live?.rerender(); });
  } catch (e) {
    wakeState = `refused (${e.name})`;
  }
  live?.rerender();
}

async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  fillSelect($("#input-device"), devices.filter((d) => d.kind === "audioinput"), live.rtc.o.micDeviceId, async (id) => {
    localStorage.setItem(INPUT_KEY, id);
    try { await live.rtc.switchMic(id); live.rtc.setMicEnabled(true); } catch (e) { toast(`Input cannot open: ${e.message}`, "error"); }
    live.rerender();
  });
  const out = $("#output-device");
  const canRoute = typeof live.rtc.audio.setSinkId === "function";
  out.disabled = !canRoute;
  fillSelect(out, devices.filter((d) => d.kind === "audiooutput"), localStorage.getItem(OUTPUT_KEY), async (id) => {
    localStorage.setItem(OUTPUT_KEY, id);
    try { await live.rtc.audio.setSinkId(id); } catch (e) { toast(`Output cannot be used: ${e.message}`, "error"); }
  });
  const saved = localStorage.getItem(OUTPUT_KEY);
  if (canRoute && saved && devices.some((d) => d.deviceId === saved)) live.rtc.audio.setSinkId(saved).catch(() => {});
}

function fillSelect(select, devices, current, onPick) {
  const key = JSON.stringify(devices.map((d) => [d.deviceId, d.label]));
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...devices.map((d, i) => el("option", { value: d.deviceId }, d.label || `Device ${i + 1}`)));
    select.onchange = () => onPick(select.value);
  }
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
}

function processing(rtc) {
  const t = rtc.mic?.getAudioTracks()[0];
  if (!t) return null;
  const s = t.getSettings?.() || {};
  return { echoCancellation: !!s.echoCancellation, noiseSuppression: !!s.noiseSuppression, autoGainControl: !!s.autoGainControl, label: t.label };
}

function render(state) {
  if (!live) return;
  const { rtc } = live;
  $("#m-title").textContent = state.meeting.title || "Meeting";
  $("#floor-where").textContent = WHERE[state.floor.room || "both"];

  // the server lost: loud, at once, until it is back (the page reconnects by itself)
  const lost = (state.welcomes || 0) > 0 && !state.ended && (state.connection !== "open" || state.peer === "failed");
  if (lost && !lostSince) { lostSince = Date.now(); lostCount += 1; }
  if (!lost) lostSince = null;
  $("#server-lost").hidden = !lost;
  document.body.classList.toggle("lost", lost);
  $("#lost-for").textContent = lost ? `Lost for ${Math.round((Date.now() - lostSince) / 1000)} s.` : "";
  document.title = `${lost ? "⚠ SERVER LOST — " : ""}Room — ${state.meeting.title || "Meeting"}`;

  const p = processing(rtc);
  const raw = p && !p.echoCancellation && !p.noiseSuppression && !p.autoGainControl;
  const proc = $("#processing");
  proc.dataset.raw = String(!!raw);
  proc.textContent = !p ? "The line input is not open yet."
    : raw ? "Echo cancellation, noise suppression and automatic gain: off (the desk's mix goes out as it is)."
      : `Warning: the browser processes the line input (echo cancellation ${p.echoCancellation ? "on" : "off"}, noise suppression ${p.noiseSuppression ? "on" : "off"}, automatic gain ${p.autoGainControl ? "on" : "off"}).`;
  $("#in-state").textContent = p ? "Line in open" : "No input";

  const rows = [
    ["Server", state.connection === "open" ? "connected" : state.connection || "connecting"],
    ["Audio", state.peer || "new"],
    ["Input", p?.label || "—"],
    ["Screen kept awake", wakeState],
    ["Connection losses", String(lostCount)],
  ];
  patch($("#status"), JSON.stringify(rows), () => rows.map(([k, v]) => el("li", { "data-status": k }, el("span", {}, k), el("strong", {}, v))));
  renderListening();
}
