// The browser tests' window into a live page, injected by Playwright before the page's own
// scripts (conftest.py, `add_init_script`), so that nothing of it is in what users load.
//
// `window.mirpTest`: `state()` (what the page knows: its Session, peer connection, the channel
// the server confirmed, floor, booths...; {} on a page that is not live yet), `hear(ms)` (FFT
// peak of what the page hears: {frequency, level_db, rms_db}), `levelAt(hz, ms)`, `mic(ms)`, and
// `drop()` (closes the socket as a network failure would). It reaches the page's live Session
// through the same module the page runs (`import("/js/live.js")` shares the page's module map),
// and listens with its own AnalyserNodes on the page's streams.
(() => {
  if (window.top !== window) return;
  const LIVE_PAGES = ["/delegate.html", "/chair.html", "/console.html", "/room.html"];
  const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  async function live() {
    if (!LIVE_PAGES.includes(location.pathname)) return null; // leave other pages' modules alone
    const mod = await import("/js/live.js");
    return mod.liveSession();
  }

  // ------------------------------------------------------------------ listening
  let ctx = null;
  const analysers = new WeakMap(); // MediaStream -> {analyser, since}
  async function analyserFor(stream, fftSize) {
    if (!stream) return null;
    let a = analysers.get(stream);
    if (!a) {
      ctx = ctx || new AudioContext({ latencyHint: "interactive" });
      if (ctx.state === "suspended") await ctx.resume();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = fftSize;
      analyser.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(stream).connect(analyser);
      a = { analyser, since: performance.now() };
      analysers.set(stream, a);
    }
    // a new analyser's window is still filling: wait one window before reading it
    const warm = a.since + (1000 * fftSize) / ctx.sampleRate + 50 - performance.now();
    if (warm > 0) await pause(warm);
    return a.analyser;
  }

  function spectrumPeak(analyser, frames) {
    const n = analyser.frequencyBinCount;
    const acc = new Float64Array(n);
    for (const f of frames) for (let i = 0; i < n; i++) acc[i] += Math.pow(10, f[i] / 10);
    let best = 1;
    for (let i = 2; i < n - 1; i++) if (acc[i] > acc[best]) best = i; // skip DC
    const p = (i) => 10 * Math.log10(acc[i] / frames.length + 1e-30);
    // parabolic interpolation around the peak bin
    const a = p(best - 1), b = p(best), c = p(best + 1);
    const d = (a - 2 * b + c) === 0 ? 0 : 0.5 * (a - c) / (a - 2 * b + c);
    const hz = (best + d) * analyser.context.sampleRate / analyser.fftSize;
    return { frequency: hz, level_db: b };
  }

  async function measure(analyser, ms) {
    if (!analyser) return { frequency: 0, level_db: -Infinity, rms_db: -Infinity, reason: "no audio yet" };
    const frames = [];
    let rmsAcc = 0, rmsN = 0;
    const td = new Float32Array(analyser.fftSize);
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const f = new Float32Array(analyser.frequencyBinCount);
      analyser.getFloatFrequencyData(f);
      frames.push(f);
      analyser.getFloatTimeDomainData(td);
      for (let i = 0; i < td.length; i++) rmsAcc += td[i] * td[i];
      rmsN += td.length;
      await pause(60);
    }
    const peak = spectrumPeak(analyser, frames);
    return { ...peak, rms_db: 20 * Math.log10(Math.sqrt(rmsAcc / Math.max(1, rmsN)) + 1e-12) };
  }

  async function levelAt(analyser, hz, ms) {
    if (!analyser) return { level_db: -Infinity, reason: "no audio yet" };
    const n = analyser.frequencyBinCount;
    const bin = Math.round(hz * analyser.fftSize / analyser.context.sampleRate);
    let acc = 0, count = 0;
    const f = new Float32Array(n);
    const end = performance.now() + ms;
    while (performance.now() < end) {
      analyser.getFloatFrequencyData(f);
      for (let i = Math.max(1, bin - 2); i <= Math.min(n - 1, bin + 2); i++) acc += Math.pow(10, f[i] / 10);
      count += 1;
      await pause(60);
    }
    return { level_db: 10 * Math.log10(acc / Math.max(1, count) + 1e-30) };
  }

  // ------------------------------------------------------------------ what the page knows
  function project(s) {
    return {
      session: s.connection, reconnect: s.reconnect || null, me: s.me?.id, role: s.me?.role,
      channel: s.heard?.channel ?? null, floor_under: s.heard?.floor_under ?? null, auto: !!s.heard?.auto,
      mic_muted_by_chair: s.floor.muted.includes(s.me?.id), quality: s.quality,
      meeting_status: s.meeting.status, ended: s.ended, waiting: !!s.waiting, welcomes: s.welcomes, resumed: s.resumed, restored: !!s.restored,
      errors: s.errors.map((e) => `${e.request || "?"}: ${e.code}: ${e.message}`),
      floor_holders: [...s.floor.holders], speakers: s.floor.speakers.map((x) => x.participant_id),
      i_have_floor: s.floor.holders.includes(s.me?.id),
      booths: Object.fromEntries(Object.entries(s.booths).map(([k, b]) => [k, { on_air: b.on_air, handover: b.handover, cough: !!b.cough }])),
      participants: [...s.participants.values()].map((p) => ({ id: p.id, name: p.name, role: p.role })),
    };
  }

  window.mirpTest = {
    async state() {
      const l = await live();
      if (!l) return {};
      return { connection: l.rtc.state, mic_enabled: l.rtc.micEnabled, ...project(l.state) };
    },
    async hear(ms = 1000) { return measure(await analyserFor((await live())?.rtc.remote, 8192), ms); },
    async mic(ms = 500) { return measure(await analyserFor((await live())?.rtc.mic, 2048), ms); },
    async levelAt(hz, ms = 1000) { return levelAt(await analyserFor((await live())?.rtc.remote, 8192), hz, ms); },
    // a socket that drops as a network would (4000: not a close the server takes as "leave")
    async drop() { (await live())?.proto.ws?.close(4000, "dropped by a test"); return true; },
  };
})();
