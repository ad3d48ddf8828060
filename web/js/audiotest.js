// The pre-call audio test: a chime on the chosen output (speaker test) and a few seconds of the
// microphone recorded and played back (hear yourself as the others will). Both play through an
// <audio> element fed by WebAudio, so the output chosen with setSinkId applies to them as it does
// to the meeting's sound; nothing leaves the browser.
import { audioContext, levelMeter } from "./meter.js";

let player = null;
/** The test's own <audio> element (hidden), sent to `sinkId` where the browser can. */
async function playerOn(sinkId) {
  if (!player) {
    player = Object.assign(document.createElement("audio"), { id: "audiotest-audio", autoplay: true, hidden: true });
    document.body.append(player);
  }
  if (sinkId != null && "setSinkId" in player) await player.setSinkId(sinkId);
  return player;
}

/** Play `stream` on the test's output until `ms` have passed; resolves when done. */
async function play(stream, sinkId, ms, meterFill) {
  const a = await playerOn(sinkId);
  a.srcObject = stream;
  await a.play();
  const stop = meterFill ? levelMeter(stream, meterFill) : null;
  await new Promise((resolve) => { setTimeout(resolve, ms); });
  stop?.();
  if (meterFill) meterFill.style.width = "0%";
  a.srcObject = null;
}

/** A short rising chime (two notes) on the output `sinkId` (null: the default). */
export async function playChime(sinkId = null) {
  const ctx = audioContext();
  if (ctx.state === "suspended") await ctx.resume();
  const dest = ctx.createMediaStreamDestination();
  const t0 = ctx.currentTime + 0.05;
  for (const [i, hz] of [660, 880].entries()) {
    const osc = ctx.createOscillator(), gain = ctx.createGain();
    osc.frequency.value = hz;
    const start = t0 + i * 0.3;
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.3, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.55);
    osc.connect(gain).connect(dest);
    osc.start(start);
    osc.stop(start + 0.6);
  }
  await play(dest.stream, sinkId, 1000, null);
}

/**
 * Record `seconds` of `stream` (the microphone), then play it back on `sinkId`.
 * `onPhase("recording" | "playing" | "done", secondsLeft)` follows it; `meterFill` shows the
 * playback's level. The samples are kept in memory only, for this one playback.
 */
export async function recordAndPlay(stream, { seconds = 5, sinkId = null, onPhase = () => {}, meterFill = null } = {}) {
  const ctx = audioContext();
  if (ctx.state === "suspended") await ctx.resume();
  const src = ctx.createMediaStreamSource(stream);
  // a ScriptProcessor, not an AudioWorklet: one small file fewer, and 5 s of mono is tiny
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const want = Math.round(seconds * ctx.sampleRate);
  const chunks = [];
  let have = 0;
  const recorded = new Promise((resolve) => {
    proc.onaudioprocess = (ev) => {
      if (have >= want) return;
      const data = ev.inputBuffer.getChannelData(0);
      chunks.push(new Float32Array(data));
      have += data.length;
      onPhase("recording", Math.max(0, Math.ceil((want - have) / ctx.sampleRate)));
      if (have >= want) resolve();
    };
  });
  // the processor runs only when connected on to the destination; its output stays silent
  const mute = ctx.createGain();
  mute.gain.value = 0;
  src.connect(proc).connect(mute).connect(ctx.destination);
  onPhase("recording", seconds);
  try { await recorded; } finally {
    proc.onaudioprocess = null;
    try { src.disconnect(); proc.disconnect(); mute.disconnect(); } catch { /* gone */ }
  }
  const buf = ctx.createBuffer(1, want, ctx.sampleRate);
  const out = buf.getChannelData(0);
  let at = 0;
  for (const c of chunks) { const n = Math.min(c.length, want - at); out.set(c.subarray(0, n), at); at += n; if (at >= want) break; }
  const dest = ctx.createMediaStreamDestination();
  const node = ctx.createBufferSource();
  node.buffer = buf;
  node.connect(dest);
  onPhase("playing", seconds);
  node.start();
  await play(dest.stream, sinkId, seconds * 1000 + 200, meterFill);
  try { node.stop(); node.disconnect(); } catch { /* ended */ }
  onPhase("done", 0);
}
