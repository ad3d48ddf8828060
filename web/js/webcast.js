// The webcast page: the meeting's HLS (one audio rendition per channel) played with hls.js
// (web/vendor/hls, pinned in tools/vendor), or natively where the browser plays HLS itself
// (Safari). The address says which meeting and, for a `token` webcast, the token:
//   /webcast.html#m=<meeting id>&t=<token>
// The language picker lists the master playlist's renditions by their NAME (each in its own
// language); the LIVE badge is lit while playback is within a few seconds of the live edge.
// What plays goes through WebAudio (an analyser drives the level meter; tests read it too).
// Captions: the master playlist has a WebVTT subtitles rendition per captioned channel (same
// LANGUAGE as its audio). hls.js fetches the one of the language heard and puts its cues on the
// timeline of what plays (CUES_PARSED; Safari: a TextTrack of the <audio> element); this page
// draws the cues of the moment itself: an <audio> element has nowhere to show them, and so the
// page has the same on/off, size and right-to-left as the delegate page (captions.js). hls.js
// is not asked to make TextTracks: it would give each a `data:` source, which the CSP refuses.
// A cue in a `floor` class is the floor's caption on a channel carrying the floor: marked.
import { renderShell } from "./shell.js";
import { $ } from "./ui.js";
import { t } from "./i18n.js";
import { SIZES, isRtl } from "./captions.js";

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
const ccRow = $("#wc-cc-row");
const ccToggle = $("#wc-cc");
const ccSize = $("#wc-cc-size");
const ccBox = $("#wc-captions");
const CC_STORE = "mirp.webcast.captions";
const CC_FONT = { small: "1rem", medium: "1.35rem", large: "1.9rem" };
const CC_LINES = 3;
const CC_KEEP_S = 60; // cues that ended longer ago than this are forgotten
// captions: the settings, the subtitle renditions ({lang, name}), the language heard, and the
// cues hls.js gave for each language (lang -> Map(cue id -> {start, end, text, floor}))
const cc = { on: true, size: "medium", tracks: [], lang: null, cues: new Map(), shown: null };
const state = { hls: null, analyser: null, context: null, stalls: 0, captions: cc };
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

// ---------------------------------------------------------------- captions
try {
  const saved = JSON.parse(localStorage.getItem(CC_STORE) || "{}");
  cc.on = saved.on !== false;
  cc.size = SIZES.includes(saved.size) ? saved.size : "medium";
} catch { /* private mode: the defaults */ }

/** A cue's text without its markup, and whether it is the floor's (class `floor`). */
function cueLine(cue) {
  const raw = String(cue.text || "");
  const text = raw.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return { text, floor: /<c\.floor[.>]/.test(raw) };
}

/** The lines to show now: the cues of the language heard that cover the playback time. */
function activeLines() {
  if (!state.hls) { // Safari: the TextTrack it made of the rendition
    const track = [...audio.textTracks].find((tt) => tt.mode !== "disabled" && tt.language === cc.lang);
    return track && track.activeCues ? [...track.activeCues].map(cueLine) : [];
  }
  const now = audio.currentTime;
  const cues = cc.cues.get(cc.lang);
  return cues ? [...cues.values()].filter((c) => c.start <= now && now < c.end).sort((a, b) => a.start - b.start) : [];
}

function keepCues(lang, parsed) {
  const cues = cc.cues.get(lang) || new Map();
  cc.cues.set(lang, cues);
  for (const cue of parsed) {
    const id = cue.id || `${cue.startTime}-${cue.endTime}-${cue.text}`; // a cue repeated in segments is one
    cues.set(id, { start: cue.startTime, end: cue.endTime, ...cueLine(cue) });
  }
  const old = audio.currentTime - CC_KEEP_S;
  for (const [id, cue] of cues) if (cue.end < old) cues.delete(id);
}

function paintCaptions() {
  ccRow.hidden = !cc.tracks.length; // a webcast without captions shows no controls
  ccToggle.setAttribute("aria-pressed", String(cc.on));
  ccBox.hidden = !cc.tracks.length || !cc.on;
  ccBox.dataset.size = cc.size;
  ccBox.style.fontSize = CC_FONT[cc.size];
  if (ccBox.hidden) { cc.shown = null; return; }
  const captioned = cc.tracks.some((tr) => tr.lang === cc.lang);
  const lines = captioned ? activeLines().slice(-CC_LINES) : [];
  // painted 4 times a second: the DOM changes only with the lines (a screen reader reads the
  // live region at each change)
  const shown = JSON.stringify([cc.lang, captioned, lines.map((l) => [l.floor, l.text])]);
  if (shown === cc.shown) return;
  cc.shown = shown;
  if (!captioned) {
    ccBox.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: t("captions.none") }));
    return;
  }
  ccBox.replaceChildren(...lines.map((line) => {
    const p = document.createElement("p");
    p.className = line.floor ? "wc-caption wc-caption-floor" : "wc-caption";
    // the floor is in whatever language is spoken, and so are its captions on any channel
    p.dir = line.floor || cc.lang === "mul" ? "auto" : isRtl(cc.lang) ? "rtl" : "ltr";
    if (!line.floor && cc.lang !== "mul") p.lang = cc.lang;
    if (line.floor) {
      const mark = Object.assign(document.createElement("span"), { className: "badge caption-mark", textContent: t("channel.floor") });
      p.append(mark, " ");
    }
    p.append(line.text);
    return p;
  }));
}

/** Load the subtitles rendition of the language heard (none while captions are off). hls.js
 * picks its own initial track once it has the list, so this is said again at each timeupdate. */
function syncSubtitles() {
  const wanted = cc.on ? cc.tracks.findIndex((tr) => tr.lang === cc.lang) : -1;
  if (state.hls) {
    if (state.hls.subtitleTrack !== wanted) state.hls.subtitleTrack = wanted;
    return;
  }
  for (const tt of audio.textTracks) {
    if (tt.kind !== "subtitles" && tt.kind !== "captions") continue;
    const mode = wanted >= 0 && tt.language === cc.lang ? "hidden" : "disabled";
    if (tt.mode !== mode) tt.mode = mode;
  }
}

/** Show the captions of `lang` (the audio rendition's LANGUAGE; the floor's is "mul"). */
function followLanguage(lang) {
  cc.lang = lang;
  syncSubtitles();
  paintCaptions();
}

function saveCaptions() {
  try { localStorage.setItem(CC_STORE, JSON.stringify({ on: cc.on, size: cc.size })); } catch { /* private mode */ }
}

ccToggle.addEventListener("click", () => { cc.on = !cc.on; saveCaptions(); followLanguage(cc.lang); });
ccSize.addEventListener("click", () => { cc.size = SIZES[(SIZES.indexOf(cc.size) + 1) % SIZES.length]; saveCaptions(); paintCaptions(); });
audio.textTracks.addEventListener("addtrack", (e) => {
  e.track.addEventListener("cuechange", paintCaptions);
  if (!state.hls) { // Safari: its own subtitle renditions
    const kinds = [...audio.textTracks].filter((tt) => tt.kind === "subtitles" || tt.kind === "captions");
    cc.tracks = kinds.map((tt) => ({ lang: tt.language, name: tt.label }));
    followLanguage(cc.lang);
  }
});
audio.textTracks.addEventListener("change", paintCaptions);
audio.addEventListener("timeupdate", () => { syncSubtitles(); paintCaptions(); });

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
    renderTextTracksNatively: false, // cues come as CUES_PARSED: this page draws them
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
    const selected = hls.audioTrack < 0 ? 0 : hls.audioTrack;
    fillPicker(data.audioTracks, selected);
    if (data.audioTracks[selected]) followLanguage(data.audioTracks[selected].lang);
  });
  hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (_, data) => {
    picker.value = String(data.id);
    const track = hls.audioTracks[data.id];
    if (track) followLanguage(track.lang);
  });
  hls.on(window.Hls.Events.CUES_PARSED, (_, data) => {
    if (data.type !== "subtitles" || !data.subtitleTrack) return;
    keepCues(data.subtitleTrack.lang, data.cues);
    paintCaptions();
  });
  hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, (_, data) => {
    cc.tracks = data.subtitleTracks.map((tr) => ({ lang: tr.lang, name: tr.name }));
    followLanguage(cc.lang);
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
      const heard = [...tracks].find((track) => track.enabled);
      if (heard) followLanguage(heard.language);
    };
    tracks.addEventListener("addtrack", list);
    picker.addEventListener("change", () => {
      [...tracks].forEach((track, i) => { track.enabled = i === Number(picker.value); });
      const chosen = tracks[Number(picker.value)];
      if (chosen) followLanguage(chosen.language);
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
