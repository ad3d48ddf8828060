// Level meters from a MediaStream with WebAudio (RMS in dBFS mapped onto a 0–100 % bar).
let sharedCtx;
export function audioContext() {
  if (!sharedCtx) sharedCtx = new (window.AudioContext || window.webkitAudioContext)({ latencyHint: "interactive" });
  if (sharedCtx.state === "suspended") sharedCtx.resume().catch(() => {});
  return sharedCtx;
}
// resume on the first gesture wherever autoplay is blocked
for (const ev of ["pointerdown", "keydown"]) window.addEventListener(ev, () => { if (sharedCtx?.state === "suspended") sharedCtx.resume(); }, { capture: true });

export const dbToPercent = (db) => Math.max(0, Math.min(100, ((db + 60) / 60) * 100));

/** Drive `fill` (an element whose width/height shows the level) from `stream`. Returns stop(). */
export function levelMeter(stream, fill, { vertical = false, onLevel } = {}) {
  const ctx = audioContext();
  const src = ctx.createMediaStreamSource(stream);
  const an = ctx.createAnalyser();
  an.fftSize = 1024;
  src.connect(an);
  const buf = new Float32Array(an.fftSize);
  let raf = 0, alive = true, shown = 0;
  const tick = () => {
    if (!alive) return;
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
    const db = 20 * Math.log10(Math.sqrt(sum / buf.length) + 1e-9);
    const pct = dbToPercent(db);
    shown = pct > shown ? pct : shown * 0.85 + pct * 0.15; // fast attack, slow release
    if (fill) fill.style[vertical ? "height" : "width"] = `${shown.toFixed(1)}%`;
    if (fill?.parentElement?.getAttribute("role") === "meter") fill.parentElement.setAttribute("aria-valuenow", String(Math.round(db)));
    onLevel?.(db);
    raf = requestAnimationFrame(tick);
  };
  tick();
  return () => { alive = false; cancelAnimationFrame(raf); try { src.disconnect(); } catch { /* gone */ } };
}

/** A meter on whatever stream `get()` gives now: a reconnect gives the Peer a new remote stream,
 * and a meter left on the old one would show silence. Call the result again (each render, a
 * timer): it moves the meter onto a new stream, and does nothing while the stream is the same. */
export function meterFollowing(get, fill, opts) {
  let stream = null, stop = null;
  return () => {
    const s = get();
    if (!s || s === stream || !fill?.isConnected) return;
    stop?.();
    stream = s;
    stop = levelMeter(s, fill, opts);
  };
}
