// The webcast page: the meeting's HLS (one audio rendition per channel) played with hls.js
// (web/vendor/hls, pinned in tools/vendor), or natively where the browser plays HLS itself
// (Safari). The address says which meeting and, for a `token` webcast, the token:
//   /webcast.html#m=<meeting id>&t=<token>
// The language picker lists the master playlist's renditions by their NAME (each in its own
// language); the LIVE badge is lit while playback is within a few seconds of the live edge.
// What plays goes through WebAudio (an analyser drives the level meter; tests read it too).
import { renderShell } from "./shell.js";
import { $ } from "./ui.js";
import { t } from "./i18n.js";

const LIVE_SLACK_S = 4; // behind the live edge by more than this: "Back to live"

const params = new URLSearchParams(location.hash.slice(1));
const meeting = params.get("m") || "";
const token = params.get("t") || "";
const audio = $("#wc-audio");
const status = $("#wc-status");
const picker = $("#wc-channel");
const play = $("#wc-play");
const live = $("#wc-live");
const goLive = $("#wc-golive");
const meter = $("#wc-level");
const state = { hls: null, analyser: null, context: null, stalls: 0 };
window.mirpWebcast = state; // for the browser tests and the curious

renderShell();

function say(text) {
  status.textContent = text;
}

function masterUrl() {
  const base = `/webcast/${encodeURIComponent(meeting)}/master.m3u8`;
  return token ? `${base}?token=${encodeURIComponent(token)}` : base;
}

function fillPicker(tracks, selected) {
  picker.replaceChildren(...tracks.map((track, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    // the floor (all languages: "mul") in the reader's words; a language by its own name
    option.textContent = track.lang === "mul" ? t("channel.floor") : track.name || track.lang || t("webcast.channel_n", { n: i + 1 });
    if (track.lang && track.lang !== "mul") option.lang = track.lang;
    return option;
  }));
  picker.value = String(selected);
  picker.disabled = tracks.length < 2;
}

function startWebAudio() {
  if (state.context) return;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  const context = new Ctx();
  const source = context.createMediaElementSource(audio);
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  analyser.connect(context.destination);
  Object.assign(state, { context, analyser });
  const data = new Float32Array(analyser.fftSize);
  const tick = () => {
    analyser.getFloatTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v));
    meter.value = peak;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function liveEdge() {
  const hls = state.hls;
  if (hls && hls.liveSyncPosition) return hls.liveSyncPosition;
  const seekable = audio.seekable;
  return seekable && seekable.length ? seekable.end(seekable.length - 1) : null;
}

function showLive() {
  const edge = liveEdge();
  const behind = edge === null ? null : edge - audio.currentTime;
  const atEdge = !audio.paused && behind !== null && behind < LIVE_SLACK_S;
  live.dataset.state = audio.paused ? "off" : atEdge ? "on" : "behind";
  goLive.hidden = audio.paused || atEdge || behind === null;
}

function withHls() {
  const hls = new window.Hls({
    enableWorker: false, // the page's CSP allows no blob: workers
    lowLatencyMode: false,
    liveSyncDuration: 1.5, // seconds behind the newest segment's end: 1 s segments, latency ~3 s
    liveMaxLatencyDuration: 6,
    xhrSetup: token ? (xhr) => xhr.setRequestHeader("Authorization", `Bearer ${token}`) : undefined,
  });
  state.hls = hls;
  hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
    say(t("webcast.ready"));
    play.disabled = false;
  });
  hls.on(window.Hls.Events.AUDIO_TRACKS_UPDATED, (_, data) => {
    fillPicker(data.audioTracks, hls.audioTrack < 0 ? 0 : hls.audioTrack);
  });
  hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (_, data) => {
    picker.value = String(data.id);
  });
  hls.on(window.Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    if (data.response && [401, 403, 404].includes(data.response.code)) {
      say(data.response.code === 404 ? t("webcast.none") : t("webcast.token_needed"));
      hls.destroy();
      return;
    }
    say(t("webcast.trouble"));
    if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    else setTimeout(() => hls.startLoad(), 2000);
  });
  picker.addEventListener("change", () => { hls.audioTrack = Number(picker.value); });
  hls.loadSource(masterUrl());
  hls.attachMedia(audio);
}

function natively() {
  // Safari plays HLS itself (and fMP4 Opus from Safari 17 / iOS 17); the token goes in the
  // first URL, whose answer sets a cookie for the playlists and segments that follow
  audio.src = masterUrl();
  play.disabled = false;
  say(t("webcast.ready"));
  const tracks = audio.audioTracks;
  if (tracks) {
    const list = () => {
      const all = [...tracks].map((track) => ({ name: track.label, lang: track.language }));
      fillPicker(all, Math.max(0, [...tracks].findIndex((track) => track.enabled)));
    };
    tracks.addEventListener("addtrack", list);
    picker.addEventListener("change", () => {
      [...tracks].forEach((track, i) => { track.enabled = i === Number(picker.value); });
    });
  }
}

play.addEventListener("click", async () => {
  startWebAudio();
  if (state.context && state.context.state === "suspended") await state.context.resume();
  try {
    await audio.play();
    say(t("webcast.playing"));
  } catch (err) {
    say(t("webcast.cannot_play", { error: err.message }));
  }
});
goLive.addEventListener("click", () => {
  const edge = liveEdge();
  if (edge !== null) audio.currentTime = edge;
});
$("#wc-volume").addEventListener("input", (e) => { audio.volume = Number(e.target.value); });
audio.addEventListener("waiting", () => {
  if (audio.currentTime > 0) { state.stalls += 1; say(t("webcast.buffering")); }
});
audio.addEventListener("playing", () => say(t("webcast.playing")));
audio.addEventListener("timeupdate", showLive);
audio.addEventListener("pause", showLive);
audio.addEventListener("playing", showLive);

if (!meeting) {
  say(t("webcast.no_meeting"));
} else if (window.Hls && window.Hls.isSupported()) {
  withHls();
} else if (audio.canPlayType("application/vnd.apple.mpegurl")) {
  natively();
} else {
  say(t("webcast.unsupported"));
}
