// Pre-join: check the invitation, ask a name when it is an open one, test the microphone, join.
import { renderShell } from "./shell.js";
import { api } from "./api.js";
import { el, $, showError, setBusy, hashParams, fmtRange, langName, roleBadge, emptyState, hydrateIcons } from "./ui.js";
import { levelMeter } from "./meter.js";
import { saveParticipant, pageForRole, SENDING_ROLES, joinedThrough, rememberJoin, whyNot } from "./session.js";
import { t } from "./i18n.js";
import { savedDevice, saveDevice, outputPicker, canChooseOutput } from "./devices.js";
import { playChime, recordAndPlay } from "./audiotest.js";

hydrateIcons();
const token = hashParams().get("t") || new URLSearchParams(location.search).get("t");
let micStream = null, stopMeter = null, info = null;

function bad(title, text) {
  $("#loading").hidden = true;
  $("#join-form").hidden = true;
  $("#bad").hidden = false;
  $("#bad").replaceChildren(emptyState("lock", title, text));
}

async function openMic(deviceId) {
  stopMeter?.(); micStream?.getTracks().forEach((tr) => tr.stop());
  $("#mic-error").hidden = true;
  try {
    micStream = await navigator.mediaDevices.getUserMedia({ audio: {
      deviceId: deviceId ? { exact: deviceId } : undefined, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (e) {
    // the microphone remembered from last time is gone (unplugged): the system's default
    if (deviceId && e.name === "OverconstrainedError") { saveDevice("mic", null); return openMic(); }
    const msg = e.name === "NotAllowedError" ? t("join.mic_blocked")
      : e.name === "NotFoundError" ? t("join.mic_none") : t("join.mic_error", { error: e.name });
    showError($("#mic-error"), new Error(msg));
    return;
  }
  stopMeter = levelMeter(micStream, $("#mic-fill"));
  saveDevice("mic", micStream.getAudioTracks()[0]?.getSettings().deviceId || null);
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  const current = micStream.getAudioTracks()[0]?.getSettings().deviceId;
  $("#mic-select").replaceChildren(...devices.map((d, i) => el("option", { value: d.deviceId, selected: d.deviceId === current }, d.label || t("join.mic_n", { n: i + 1 }))));
}

async function start() {
  if (!token) { bad(t("join.no_invitation"), t("join.no_invitation_detail")); return; }
  try { info = await api.peekJoin(token); }
  catch (e) {
    bad(t("join.cannot"), whyNot(e));
    return;
  }
  const m = info.meeting || {};
  document.title = `${t("join.join_title", { title: m.title || t("common.meeting") })} — MIRP`;
  $("#meeting-title").textContent = m.title || t("common.meeting");
  $("#meeting-when").textContent = m.starts_at ? fmtRange(m.starts_at, m.ends_at) : "";
  $("#role-line").replaceChildren(...[el("span", { class: "muted" }, t("join.as")), roleBadge(info.role),
    info.booth ? el("span", { class: "badge green" }, t("console.booth_of", { language: langName(info.booth) })) : null,
    info.named && info.name ? el("strong", {}, info.name) : null,
    info.delegation ? el("span", { class: "muted" }, `· ${info.delegation}`) : null].filter(Boolean));
  // this browser (or, for a named link, this person anywhere) joined before: it comes back as
  // the same participant, with the same seat and channel
  const returning = info.rejoin || !!joinedThrough(token);
  // an open link this browser joined through: the server knows the name, so it is not asked again
  $("#name-fields").hidden = !!info.named || returning;
  // the Help link leads to the guide for the role this link joins as
  $("header.appbar").dataset.help = { interpreter: "interpreter", chair: "chair", room: "room" }[info.role] || "delegate";
  renderShell();
  if (returning) {
    $("#join-btn").textContent = t("join.rejoin");
    $("#role-line").after(el("p", { class: "small muted mt-12", id: "rejoin-note" }, t("join.rejoin_note")));
  }
  $("#loading").hidden = true;
  $("#join-form").hidden = false;
  if (SENDING_ROLES.has(info.role)) {
    $("#mic-fields").hidden = false;
    await openMic(savedDevice("mic"));
    $("#mic-select").addEventListener("change", (e) => openMic(e.target.value));
  } else if (!returning) {
    $("#join-btn").textContent = t("join.listen");
  }
  await setupAudioTest();
  ($("#name-fields").hidden ? $("#join-btn") : $("#join-name")).focus();
}

// ---------------------------------------------------------------- the audio test (issue 12, 15)
// the output chosen here is remembered (devices.js) and used by the live page's sound
let testing = false;
async function setupAudioTest() {
  const refreshOut = outputPicker($("#out-select"), $("#out-note"), () => [$("#audiotest-audio")].filter(Boolean));
  await refreshOut();
  const sink = () => (canChooseOutput() ? $("#out-select").value : null);
  const status = (text) => { $("#test-status").textContent = text; };
  const busy = (on) => { testing = on; $("#test-speakers").disabled = on; $("#test-record").disabled = on; };
  $("#test-speakers").addEventListener("click", async () => {
    if (testing) return;
    busy(true); status(t("audiotest.chime"));
    try { await playChime(sink()); status(t("audiotest.chime_done")); }
    catch (e) { status(t("audiotest.failed", { error: e.name || e.message })); }
    busy(false);
  });
  $("#test-record").addEventListener("click", async () => {
    if (testing || !micStream) return;
    busy(true);
    try {
      await recordAndPlay(micStream, { seconds: 5, sinkId: sink(), meterFill: $("#playback-fill"),
        onPhase: (phase, left) => {
          $("#test-status").dataset.phase = phase;
          status(phase === "recording" ? t("audiotest.recording", { count: left }) : phase === "playing" ? t("audiotest.playing") : t("audiotest.done"));
        } });
    } catch (e) { status(t("audiotest.failed", { error: e.name || e.message })); }
    busy(false);
  });
}

$("#join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const fields = {};
  if (!info.named && !$("#name-fields").hidden) {
    const name = $("#join-name").value.trim();
    if (!name) { $("#join-name").setAttribute("aria-invalid", "true"); showError($("#join-error"), new Error(t("join.give_name"))); $("#join-name").focus(); return; }
    fields.name = name;
    if ($("#join-delegation").value.trim()) fields.delegation = $("#join-delegation").value.trim();
  }
  const before = joinedThrough(token);
  if (before) fields.participant_token = before;
  const btn = $("#join-btn");
  setBusy(btn, true, t("join.joining"));
  try {
    const res = await api.join(token, fields);
    rememberJoin(token, res.participant_token);
    const micId = micStream?.getAudioTracks()[0]?.getSettings().deviceId || null;
    stopMeter?.(); micStream?.getTracks().forEach((tr) => tr.stop());
    saveParticipant({ ...res, invitation_token: token, mic_device_id: micId, meeting: res.meeting || info.meeting });
    location.assign(pageForRole(res.role));
  } catch (err) {
    setBusy(btn, false);
    if (err.details?.field === "name" && $("#name-fields").hidden) { // this browser's seat is gone
      $("#name-fields").hidden = false;
      $("#join-name").focus();
    }
    const why = whyNot(err);
    showError($("#join-error"), why === err.message ? err : new Error(why));
  }
});

start();
