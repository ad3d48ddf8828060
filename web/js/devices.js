// Audio devices: which microphone and which output (speakers, headset) this browser uses,
// remembered per browser (localStorage), chosen on the join page and changed on every live page
// without leaving: a new microphone replaces the track on the peer's sender (no new peer, no
// renegotiation), a new output moves the page's <audio> elements (setSinkId). Browsers without
// setSinkId (Firefox before 116, Safari) play through the system's output: the page says so.
import { el, toast } from "./ui.js";
import { t } from "./i18n.js";
import { playChime } from "./audiotest.js";

const KEYS = { mic: "mirp.audio.mic", out: "mirp.audio.out" };

export function savedDevice(kind) {
  try { return localStorage.getItem(KEYS[kind]) || null; } catch { return null; }
}
export function saveDevice(kind, id) {
  try { if (id) localStorage.setItem(KEYS[kind], id); else localStorage.removeItem(KEYS[kind]); } catch { /* storage off */ }
}

/** Whether this browser can send a page's sound to a chosen output. */
export const canChooseOutput = () => typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;

export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  return { inputs: all.filter((d) => d.kind === "audioinput"), outputs: all.filter((d) => d.kind === "audiooutput") };
}

/** Send `audio` (an element) to the output `id` ("" or null: the system's default). */
export async function applySink(audio, id) {
  if (!audio || !canChooseOutput()) return false;
  await audio.setSinkId(id || "");
  return true;
}

/** Fill a <select> with devices; the one whose id is `current` is selected. */
export function fillSelect(select, devices, current, nameN) {
  const key = JSON.stringify([devices.map((d) => [d.deviceId, d.label]), current]);
  if (select.dataset.key === key) return;
  select.dataset.key = key;
  select.replaceChildren(...devices.map((d, i) => el("option", { value: d.deviceId, selected: d.deviceId === current },
    d.deviceId === "default" && !d.label ? t("devices.output_default") : d.label || nameN(i + 1))));
}

/** The output picker (or, where the browser has none, why not): `outSelect` and `note` exist in
 * the page; `targets()` gives the <audio> elements that play. Returns refresh(). */
export function outputPicker(outSelect, note, targets) {
  const supported = canChooseOutput();
  outSelect.closest(".field").hidden = !supported;
  note.hidden = supported;
  if (!supported) { note.textContent = t("devices.no_output_choice"); return async () => {}; }
  outSelect.addEventListener("change", async () => {
    const id = outSelect.value;
    try {
      for (const a of targets()) await applySink(a, id);
      saveDevice("out", id);
    } catch (e) { toast(t("devices.output_failed", { error: e.name || e.message }), "error"); }
  });
  return async () => {
    const { outputs } = await listDevices();
    fillSelect(outSelect, outputs, savedDevice("out") || "default", (n) => t("devices.output_n", { n }));
  };
}

/** The "Audio devices" panel of a live page (delegate, chair, console), in `box`. */
export function setupDevices(live, box) {
  if (!live || !box) return;
  const { rtc } = live;
  const sends = !!rtc.o.send;
  // a microphone changed on a live page before a reload is the one to open again
  const mic = savedDevice("mic");
  if (sends && mic) rtc.o.micDeviceId = mic;
  const out = savedDevice("out");
  if (out) applySink(rtc.audio, out).catch(() => saveDevice("out", null));

  const micSelect = el("select", { id: "dev-mic" });
  const outSelect = el("select", { id: "dev-out" });
  const note = el("p", { class: "hint small muted", id: "dev-out-note" });
  const test = el("button", { class: "btn small", type: "button", id: "dev-test-speakers" }, t("audiotest.speakers"));
  box.replaceChildren(el("details", { class: "devices", id: "devices-panel" },
    el("summary", {}, t("devices.title")),
    sends ? el("div", { class: "field mt-12" }, el("label", { for: "dev-mic" }, t("devices.microphone")), micSelect) : null,
    el("div", { class: "field" }, el("label", { for: "dev-out" }, t("devices.output")), outSelect),
    note, test));
  const refreshOut = outputPicker(outSelect, note, () => [rtc.audio]);
  test.addEventListener("click", () => playChime(canChooseOutput() ? outSelect.value : null).catch((e) => toast(t("audiotest.failed", { error: e.name || e.message }), "error")));

  const refresh = async () => {
    await refreshOut();
    if (!sends) return;
    const { inputs } = await listDevices();
    const current = rtc.mic?.getAudioTracks()[0]?.getSettings().deviceId || rtc.o.micDeviceId;
    fillSelect(micSelect, inputs, current, (n) => t("join.mic_n", { n }));
  };
  micSelect.addEventListener("change", async () => {
    const id = micSelect.value;
    try {
      // replaceTrack on the same sender: the peer stays, the server hears the new microphone
      await rtc.switchMic(id);
      saveDevice("mic", id);
      live.rerender?.();
      toast(t("devices.mic_changed", { name: micSelect.selectedOptions[0]?.textContent || "" }));
    } catch (e) { toast(t("devices.mic_failed", { error: e.name || e.message }), "error"); }
    refresh();
  });
  box.querySelector("details").addEventListener("toggle", refresh);
  navigator.mediaDevices?.addEventListener?.("devicechange", refresh);
  refresh();
}
