// The live pages' common core: the participant's Session (protocol), its Peer (rtc), one
// normalized view of the Room that pages render from, and the app bar with the connection state.
import { MEETING_FULL, Protocol } from "./protocol.js";
import { Rtc, installTestHook } from "./rtc.js";
import { loadParticipant, clearParticipant, SENDING_ROLES } from "./session.js";
import { el, $, toast, icon, langName, emptyState } from "./ui.js";

/** The Room as the pages see it (filled from the server's snapshot and events). */
export function emptyState_() {
  return {
    me: null, meeting: { title: "", languages: [], booths: [], under_levels_db: [-12, -18, -24], status: "open" },
    participants: new Map(), // id -> {id, name, role, delegation, booth, connected, muted}
    floor: { holders: [], language: null, time_limit_s: null, deadline: null, speakers: [] },
    booths: {}, // lang -> {on_air, channel, input, handover, cough, consoles: {id: {...}}}
    channels: {}, // channel -> {route, listeners}
    subscription: { channel: "floor", floor_under: null }, // what the page shows as chosen
    heard: null, // what the server confirmed (`subscribed`): what this Session really hears
    chat: [], notices: [], errors: [],
    connection: "connecting", quality: null, ended: null,
  };
}

export function startLive({ render, onEvent }) {
  const me = loadParticipant();
  if (!me?.participant_token) { showNoSession(); return null; }
  const state = emptyState_();
  state.me = { id: me.participant_id, name: me.name, role: me.role, booth: me.booth, delegation: me.delegation };
  if (me.meeting) Object.assign(state.meeting, me.meeting);
  const proto = new Protocol({ token: me.participant_token });
  let scheduled = false;
  const rerender = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; renderBar(state); if (!state.ended) render(state); });
  };

  const rtc = new Rtc({
    send: SENDING_ROLES.has(me.role),
    micDeviceId: me.mic_device_id,
    iceServers: [],
    sendOffer: (sdp) => proto.offer(sdp),
    sendCandidate: (c) => proto.candidate(c),
    onState: (s) => { state.peer = s; rerender(); },
    onAutoplayBlocked: () => showAutoplayBanner(rtc),
  });
  installTestHook(rtc, () => testState(state), {
    // a socket that drops as a network would (not a close the server sees as "leave")
    drop: () => { proto.ws?.close(4000, "dropped by a test"); return true; },
  });

  proto.on("_status", ({ status, code, reason }) => {
    state.connection = status;
    state.full = status === "reconnecting" && code === MEETING_FULL; // retried every 15-30 s
    if (status === "closed" && code >= 4400 && !state.ended) {
      const why = state.lastError?.details?.reason;
      state.retry = why === "not_open" || code === 4409;
      state.ended = why === "not_open" ? "The meeting has not opened yet. Try again when the chair opens it."
        : code === 4409 ? "You joined this meeting again in another window or tab, so this one stopped."
          : code === 4410 ? "The chair closed the meeting. Thank you for taking part."
            : reason || "You were disconnected.";
    }
    rerender();
  });
  proto.on("*", (msg) => {
    const effect = applyServerMessage(state, msg);
    if (effect?.closed || effect?.removed) { proto.stop(); rtc.close(); }
    if (msg.type === "error") {
      state.lastError = { code: msg.code, message: msg.message, request: msg.request, details: msg.details || {} };
      state.errors.push(state.lastError);
      if (state.errors.length > 20) state.errors.shift();
    }
    onEvent?.(msg, state, effect);
    rerender();
  });
  proto.on("welcome", async (msg) => {
    state.welcomes = (state.welcomes || 0) + 1;
    state.resumed = !!msg.resumed;
    if (msg.ice_servers) rtc.o.iceServers = msg.ice_servers;
    // a reconnect is a new Session: a new peer connection, and our listening choice again
    try { await rtc.start(); } catch (e) { toast(`Audio cannot start: ${e.message}`, "error"); }
    // the server keeps our channel through a short outage; after a long one (or a restart) we
    // ask again for what the user last picked (never overriding auto-relay on our own)
    const w = state.wanted, h = state.heard;
    if (w && (!h || (w.channel === "auto" ? !h.auto : h.auto || h.channel !== w.channel || (h.floor_under ?? null) !== (w.floor_under ?? null)))) {
      proto.subscribe(w.channel, w.floor_under ?? null);
    }
  });
  proto.on("answer", (msg) => rtc.acceptAnswer(msg.sdp));
  proto.on("ice", (msg) => rtc.addCandidate(msg.candidate));
  // the server's side of our peer ended (ICE failed, silence): offer again on the same session
  proto.on("peer_closed", () => { if (proto.status === "open") rtc.start().catch((e) => toast(`Audio cannot restart: ${e.message}`, "error")); });
  proto.connect();

  // tell the server (the chair and the organizer see it) a grade seen twice in a row (a lone
  // sample, e.g. while ICE settles, is noise) when it changed, and every 30 s anyway
  let lastReport = null, prevGrade = null;
  setInterval(async () => {
    const q = await rtc.quality();
    if (!q) return;
    state.quality = q;
    rerender();
    const stable = q.grade === prevGrade;
    prevGrade = q.grade;
    const now = Date.now();
    if (stable && q.grade !== "unknown" && (!lastReport || lastReport.grade !== q.grade || now - lastReport.at > 30000)) {
      const clamp = (v, hi) => (v == null || !Number.isFinite(v) ? null : Math.max(0, Math.min(hi, v)));
      if (proto.quality({ grade: q.grade, rtt: clamp(q.rtt, 60), jitter: clamp(q.jitter, 60), loss: clamp(q.loss, 1) })) lastReport = { grade: q.grade, at: now };
    }
  }, 2000);
  window.addEventListener("pagehide", () => { proto.close(); rtc.close(); });

  const leave = () => {
    proto.leave();
    setTimeout(() => { proto.close(); rtc.close(); clearParticipant(); location.assign("/left.html"); }, 150);
  };
  renderBar(state, leave);
  return { state, proto, rtc, rerender, leave };
}

/** What the page knows, for tests polling a state with a deadline. */
function testState(s) {
  return {
    session: s.connection, me: s.me?.id, role: s.me?.role, channel: s.heard?.channel ?? null, floor_under: s.heard?.floor_under ?? null,
    auto: !!s.heard?.auto, mic_muted_by_chair: s.floor.muted.includes(s.me?.id), quality: s.quality,
    meeting_status: s.meeting.status, ended: s.ended, welcomes: s.welcomes, resumed: s.resumed,
    errors: s.errors.map((e) => `${e.request || "?"}: ${e.code}: ${e.message}`),
    floor_holders: [...s.floor.holders], speakers: s.floor.speakers.map((x) => x.participant_id),
    i_have_floor: s.floor.holders.includes(s.me?.id),
    booths: Object.fromEntries(Object.entries(s.booths).map(([k, b]) => [k, { on_air: b.on_air, handover: b.handover }])),
    participants: [...s.participants.values()].map((p) => ({ id: p.id, name: p.name, role: p.role })),
  };
}

// ---------------------------------------------------------------- server messages -> state
function putParticipant(state, p) {
  const id = p.participant_id || p.id;
  if (!id) return;
  state.participants.set(id, { ...(state.participants.get(id) || {}), ...p, id, connected: p.connected !== false });
}
const list = (v) => (Array.isArray(v) ? v : v && typeof v === "object" ? Object.entries(v).map(([k, x]) => ({ _key: k, ...x })) : []);
function applyFloor(state, f) {
  const speakers = f.speakers || f.speakers_list || [];
  state.floor = {
    holders: f.holders || (f.holder ? [f.holder] : []),
    language: f.language ?? null,
    time_limit_s: f.time_limit_s ?? null,
    remaining_s: f.remaining_s ?? null,
    deadline: f.remaining_s != null ? Date.now() + f.remaining_s * 1000 : null,
    speakers: speakers.map((x) => (typeof x === "string" ? { participant_id: x, kind: "speak" } : x)),
    muted: f.muted || [],
  };
}
function applyBooth(state, b) {
  const lang = b.language || b._key;
  state.booths[lang] = { consoles: {}, ...(state.booths[lang] || {}), ...b, language: lang };
}

/** Apply one server message to the page's view of the Room; returns what the page may announce. */
export function applyServerMessage(state, msg) {
  switch (msg.type) {
    case "welcome": {
      const r = msg.room || msg;
      if (r.meeting) Object.assign(state.meeting, r.meeting);
      state.participants = new Map();
      for (const p of list(r.participants)) putParticipant(state, p._key && !p.id && !p.participant_id ? { ...p, id: p._key } : p);
      if (r.floor) applyFloor(state, r.floor);
      state.booths = {};
      for (const b of list(r.booths)) applyBooth(state, b);
      if (r.channels) state.channels = r.channels;
      const sub = r.subscription || r.you?.subscription || r.me?.subscription;
      state.heard = null;
      if (sub?.channel) state.heard = state.subscription = { channel: sub.channel, floor_under: sub.floor_under ?? null, auto: !!sub.auto };
      if (msg.participant_id) state.me.id = msg.participant_id;
      if (state.meeting.status === "closed") state.ended = "This meeting is closed.";
      return null;
    }
    case "participant_joined":
    case "participant": putParticipant(state, msg.participant || msg); return null;
    case "participant_left": state.participants.delete(msg.participant_id); return null;
    case "floor": applyFloor(state, msg); return null;
    case "booth": applyBooth(state, msg); return null;
    case "channels": state.channels = msg.channels || {}; return null;
    case "meeting": {
      Object.assign(state.meeting, msg.meeting || { status: msg.status });
      if (msg.closed || state.meeting.status === "closed") { state.ended = "The chair closed the meeting. Thank you for taking part."; return { closed: true }; }
      return null;
    }
    case "subscribed": state.heard = state.subscription = { channel: msg.channel, floor_under: msg.floor_under ?? null, auto: !!msg.auto }; return null;
    case "chat": state.chat.push({ from: msg.from, text: msg.text, at: msg.at ? msg.at * 1000 : Date.now() }); return { chat: true };
    case "notice": {
      const who = (id) => state.participants.get(id)?.name;
      const text = msg.text || {
        slow_down: `${who(msg.from) || "An interpreter"}${msg.booth ? ` (${langName(msg.booth)})` : ""} asks the speaker to slow down.`,
        time_up: `${msg.participant_id === state.me.id ? "Your" : `${who(msg.participant_id) || "The speaker"}'s`} speaking time is up.`,
        handover_expired: "The handover request expired.",
        handover_declined: "The handover was declined.",
      }[msg.kind] || msg.kind;
      state.notices.push({ kind: msg.kind, text, from: msg.from, at: Date.now() });
      return { notice: text, kind: msg.kind };
    }
    case "removed": state.ended = msg.reason || "The chair removed you from the meeting."; return { removed: true };
    default: return null;
  }
}

// ---------------------------------------------------------------- app bar
let leaveFn = null;
function renderBar(state, leave) {
  if (leave) leaveFn = leave;
  const bar = $(".appbar");
  if (!bar) return;
  const c = state.connection === "open" ? (state.peer === "connected" ? "ok" : "warn") : state.connection === "closed" ? "bad" : "warn";
  const text = state.connection === "open"
    ? (state.peer === "connected" ? "Connected" : state.peer === "failed" ? "Audio failed" : "Connecting audio…")
    : state.connection === "reconnecting" ? (state.full ? "Meeting full, trying again…" : "Reconnecting…") : state.connection === "closed" ? "Disconnected" : "Connecting…";
  const q = state.quality && state.peer === "connected" ? state.quality : null;
  const qText = q ? ` · ${q.grade}${q.rtt != null ? `, ${Math.round(q.rtt * 1000)} ms` : ""}` : "";
  if (!bar.dataset.built) {
    bar.dataset.built = "1";
    bar.replaceChildren(
      el("a", { class: "brand", href: "#", "aria-label": "MIRP" }, el("span", { class: "brand-mark", "aria-hidden": "true" }, "M"), "MIRP"),
      el("span", { class: "brand-sub", id: "bar-title" }),
      el("div", { class: "spacer" }),
      el("span", { class: "conn", id: "conn", role: "status", "aria-live": "polite" }),
      el("span", { class: "who", id: "bar-who" }),
      el("button", { class: "linkish", type: "button", id: "leave", onclick: () => { if (confirm("Leave the meeting?")) leaveFn?.(); } }, "Leave"));
  }
  $("#bar-title").textContent = state.meeting.title || "";
  $("#bar-who").textContent = state.me?.name || "";
  const conn = $("#conn");
  const label = `${text}${qText}`;
  if (conn.dataset.label !== label) {
    conn.dataset.label = label;
    conn.replaceChildren(el("span", { class: `dot ${c}${c === "ok" ? " pulse" : ""}` }), el("span", {}, text), el("span", { class: "q" }, qText));
  }
  if (state.ended && !$("#ended")) {
    $("main").replaceChildren(el("div", { class: "container", id: "ended" }, el("div", { class: "card" },
      emptyState("lock", state.retry ? "Not in the meeting" : "You are no longer in the meeting", state.ended,
        state.retry ? el("button", { class: "btn primary", type: "button", onclick: () => location.reload() }, "Try again") : null))));
  }
}

function showNoSession() {
  document.querySelector("main").replaceChildren(el("div", { class: "container" }, el("div", { class: "card" },
    emptyState("lock", "Not joined", "Open the link from your invitation to join the meeting."))));
}

function showAutoplayBanner(rtc) {
  if ($("#autoplay")) return;
  const b = el("div", { class: "alert warn container", id: "autoplay", role: "alert", style: "margin-top:12px" },
    "Your browser paused the sound. ", el("button", { class: "btn small primary", type: "button", onclick: () => { rtc.audio.play(); b.remove(); } }, "Start sound"));
  $("main").prepend(b);
}

// ---------------------------------------------------------------- shared widgets
export function channelPicker(state, onPick) {
  const chans = ["floor", ...state.meeting.languages];
  const current = state.subscription.channel;
  return el("div", { class: "channels", role: "radiogroup", "aria-label": "Listen to" }, ...chans.map((c) => {
    const route = state.channels[c]?.route;
    const status = c === "floor" ? "Original"
      : { interpretation: "Interpreted", floor_language: "Original", auto_floor: "Floor", silence: "Silent" }[route] || "";
    return el("button", { class: "channel", type: "button", role: "radio", "aria-checked": String(current === c), "data-channel": c,
      tabindex: current === c ? "0" : "-1", onclick: () => onPick(c),
      onkeydown: (e) => {
        const i = chans.indexOf(c);
        const n = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : e.key === "ArrowLeft" || e.key === "ArrowUp" ? -1 : 0;
        if (n) { e.preventDefault(); const next = chans[(i + n + chans.length) % chans.length]; onPick(next);
          // focus moves now (a second key press at once goes on from there), and again after the re-render
          const focusNext = () => document.querySelector(`[data-channel="${next}"]`)?.focus();
          focusNext(); requestAnimationFrame(focusNext); }
      } },
    el("span", { class: "name", lang: c === "floor" ? undefined : c }, langName(c)),
    el("span", { class: "meta" }, c === "floor" ? null : c.toUpperCase(), c !== "floor" && status ? " · " : null, status ? el("span", { class: `status ${route || ""}` }, status) : null));
  }));
}

export function participantRow(p, { extra = null, speaking = false } = {}) {
  const away = p.connected === false;
  const q = !away && (p.quality === "poor" || p.quality === "fair") ? p.quality : null;
  return el("li", { "data-participant": p.id, class: away ? "away" : null },
    el("span", { class: `avatar${speaking ? " speaking" : ""}`, "aria-hidden": "true" }, (p.name || "?").split(/\s+/).slice(0, 2).map((w) => w[0]).join("").toUpperCase()),
    el("div", { class: "who" }, el("div", { class: "n" }, p.name || "Participant", speaking ? el("span", { class: "visually-hidden" }, " (speaking)") : null),
      el("div", { class: "d" }, [p.delegation, p.role === "interpreter" && p.booth ? `Interpreter · ${langName(p.booth)}` : p.role !== "delegate" ? cap(p.role) : null,
        away ? "Reconnecting…" : null].filter(Boolean).join(" · "),
      q ? el("span", { class: `line-q ${q}`, title: "Connection quality" }, icon("wifi", 12), q === "poor" ? " Poor line" : " Fair line") : null)),
    extra);
}
const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : "");
export { icon };
