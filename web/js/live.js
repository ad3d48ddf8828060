// The live pages' common core: the participant's Session (protocol), its Peer (rtc), one
// normalized view of the Room that pages render from, and the app bar with the connection state.
import { Protocol } from "./protocol.js";
import { CLOSE } from "./wire.js";
import { Rtc } from "./rtc.js";
import { FloorVideo } from "./video.js";
import { loadParticipant, clearParticipant, saveLeft, lastJoinedLink, SENDING_ROLES } from "./session.js";
import { emptyRoomView, applyServerMessage, applyStatus, backText, myPicture } from "./roomview.js";
import { renderShell } from "./shell.js";
import { el, $, toast, icon, langName, emptyState } from "./ui.js";
import { t } from "./i18n.js";

export function startLive({ render, onEvent }) {
  const me = loadParticipant();
  if (!me?.participant_token) { showNoSession(); return null; }
  const state = emptyRoomView();
  state.me = { id: me.participant_id, name: me.name, role: me.role, booth: me.booth, delegation: me.delegation };
  if (me.meeting) Object.assign(state.meeting, me.meeting);
  const proto = new Protocol({ token: me.participant_token });
  let scheduled = false;
  const rerender = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; renderBar(state); if (!state.ended) render(state); });
  };

  // an interpreter's camera: only their booth partner sees it (the console turns it on while
  // one is there, console.js)
  const interpreter = me.role === "interpreter";
  const video = new FloorVideo({ camera: me.role === "chair" || me.role === "delegate" || interpreter, cameraOn: me.role === "chair", partner: interpreter, sendVideoSet: (msg) => proto.send("video_set", msg) });
  const rtc = new Rtc({
    video,
    send: SENDING_ROLES.has(me.role),
    micDeviceId: me.mic_device_id,
    iceServers: [],
    sendOffer: (sdp) => proto.offer(sdp),
    sendCandidate: (c) => proto.candidate(c),
    onState: (s) => { state.peer = s; rerender(); },
    onAutoplayBlocked: () => showAutoplayBanner(rtc),
  });
  proto.on("_status", (ev) => {
    applyStatus(state, ev);
    // the waiting room: the meeting is not open yet; ask again every few seconds (jittered, so
    // that a hall of early arrivals does not knock at once) until the chair opens it
    if (state.waiting && ev.status === "closed") {
      setTimeout(() => { if (!state.waiting || state.ended) return; state.lastError = null; proto.final = false; proto.attempt = 0; proto.connect(); },
        WAITING_RETRY_MS * (0.8 + 0.4 * Math.random()));
    }
    rerender();
  });
  proto.on("*", (msg) => {
    const effect = applyServerMessage(state, msg);
    if (effect?.closed || effect?.removed) { proto.stop(); rtc.close(); }
    onEvent?.(msg, state, effect);
    rerender();
  });
  proto.on("welcome", async (msg) => {
    state.welcomes = (state.welcomes || 0) + 1;
    state.resumed = !!msg.resumed;
    // the server restarted and brought the room back as it was (docs/protocol.md, welcome)
    state.restored = !!msg.room?.restored;
    if (msg.ice_servers) rtc.o.iceServers = msg.ice_servers;
    // a reconnect is a new Session: a new peer connection, and our listening choice again; a
    // welcome again on the same Session (a resync, docs/protocol.md) keeps the peer it has
    const sameSession = msg.session_id != null && msg.session_id === state.sessionId && rtc.pc;
    state.sessionId = msg.session_id ?? null;
    if (!sameSession) {
      try { await rtc.start(); } catch (e) { toast(t("live.audio_cannot_start", { error: e.message }), "error"); }
    }
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
  proto.on("peer_closed", () => { if (proto.status === "open") rtc.start().catch((e) => toast(t("live.audio_cannot_restart", { error: e.message }), "error")); });
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
    setTimeout(() => {
      proto.close(); rtc.close(); clearParticipant();
      // the Leave page's Rejoin button brings this tab back through the same link
      if (me.invitation_token) saveLeft({ link: me.invitation_token, title: state.meeting.title, mic_device_id: me.mic_device_id });
      location.assign("/left.html");
    }, 150);
  };
  renderBar(state, leave);
  running = { state, proto, rtc, video, rerender, leave };
  return running;
}

const WAITING_RETRY_MS = 5000;

/** The live Session of this page ({state, proto, rtc, ...}), or null before startLive. A module
 * export, not a global: what needs it (the page's own modules, a test through `import()`) asks. */
let running = null;
export const liveSession = () => running;

// ---------------------------------------------------------------- app bar
let leaveFn = null;
function renderBar(state, leave) {
  if (leave) leaveFn = leave;
  const bar = $(".appbar");
  if (!bar) return;
  const c = state.connection === "open" ? (state.peer === "connected" ? "ok" : "warn") : state.connection === "closed" ? "bad" : "warn";
  const text = state.connection === "open"
    ? (state.peer === "connected" ? t("conn.connected") : state.peer === "failed" ? t("conn.audio_failed") : t("conn.connecting_audio"))
    : state.connection === "reconnecting"
      ? (state.full ? t("conn.full")
        : state.reconnect?.code === CLOSE.TRY_AGAIN
          ? t("conn.busy", { count: Math.max(1, Math.round(state.reconnect.in_ms / 1000)) }) : t("conn.reconnecting"))
      : state.connection === "closed" ? t("conn.disconnected") : t("conn.connecting");
  const q = state.quality && state.peer === "connected" && state.connection === "open" ? state.quality : null;
  const qText = q ? ` · ${t(`quality.${q.grade}`)}${q.rtt != null ? `, ${t("unit.ms", { count: Math.round(q.rtt * 1000) })}` : ""}` : "";
  if (!bar.dataset.built) {
    bar.dataset.built = "1";
    renderShell({ sub: null, home: null, start: [el("span", { class: "brand-sub", id: "bar-title", dir: "auto" }),
      el("span", { class: "rec-badge", id: "bar-rec", hidden: true, title: t("live.rec_title") }, t("live.rec"))], end: [
      el("span", { class: "conn", id: "conn", role: "status", "aria-live": "polite" }),
      el("span", { class: "who", id: "bar-who" }),
      el("button", { class: "linkish", type: "button", id: "leave", onclick: () => { if (confirm(t("live.leave_confirm"))) leaveFn?.(); } }, t("live.leave"))] });
  }
  $("#bar-title").textContent = state.meeting.title || "";
  // a recorder writing now (the server sends its real state: a full disk turns it off), docs/webcast.md
  $("#bar-rec").hidden = !(state.meeting.recording && state.meeting.status !== "closed");
  $("#bar-who").textContent = state.me?.name || "";
  const conn = $("#conn");
  const label = `${text}${qText}`;
  if (conn.dataset.label !== label) {
    conn.dataset.label = label;
    conn.replaceChildren(el("span", { class: `dot ${c}${c === "ok" ? " pulse" : ""}` }), el("span", {}, text), el("span", { class: "q" }, qText));
  }
  renderConnectionLost(state);
  renderWaiting(state);
  renderFull(state);
  renderBack(state);
  if (state.ended && !$("#ended")) {
    $("main").replaceChildren(el("div", { class: "container", id: "ended" }, el("h1", { class: "visually-hidden" }, state.meeting.title || t("common.meeting")), el("div", { class: "card" },
      emptyState("lock", state.retry ? t("live.open_elsewhere") : t("live.no_longer_in"), state.ended,
        state.retry ? el("button", { class: "btn primary", type: "button", id: "take-back", onclick: () => location.reload() }, t("live.use_here")) : null))));
  }
}

/** Honest states: once the page was in the meeting, a lost Session (or a failed peer) replaces
 * the live and on-air indicators (hidden by `body.conn-lost` in mirp.css) with one full-width
 * state, at once: nobody hears this person until the page is back. */
function renderConnectionLost(state) {
  const lost = (state.welcomes || 0) > 0 && !state.ended && !state.waiting
    && (state.connection !== "open" || state.peer === "failed");
  document.body.classList.toggle("conn-lost", lost);
  const box = $("#conn-lost");
  if (lost && !box) {
    $("main")?.prepend(el("div", { class: "conn-lost-banner", id: "conn-lost", role: "alert" }, icon("wifi", 28),
      el("div", {}, el("div", { class: "big" }, t("live.lost")),
        el("div", { class: "small" }, t("live.lost_detail")))));
  } else if (!lost && box) box.remove();
}

/** The waiting room: arrived before the chair opened the meeting; the page joins by itself. */
function renderWaiting(state) {
  const waiting = !!state.waiting && !state.ended;
  document.body.classList.toggle("waiting", waiting);
  const box = $("#waiting");
  if (waiting && !box) {
    $("main")?.prepend(el("div", { class: "container", id: "waiting" }, el("div", { class: "card", role: "status" },
      emptyState("calendar", t("live.waiting"), t("live.waiting_detail")))));
  } else if (!waiting && box) box.remove();
}

/** After a reconnection or a restart: what changed for this person (the floor, on air, their
 * place on the speakers list), or that nothing did, until they dismiss it or the next return. */
function renderBack(state) {
  const back = state.ended || state.connection !== "open" ? null : state.back;
  let box = $("#back-notice");
  if (!back) { box?.remove(); return; }
  if (box && box.dataset.at === String(back.at)) return;
  box?.remove();
  const changed = back.changes.length > 0;
  box = el("div", { class: `alert ${changed ? "warn" : "info"} container back-notice`, id: "back-notice", role: changed ? "alert" : "status", "data-at": String(back.at), "data-changed": String(changed) },
    el("span", { class: "grow" }, backText(back, myPicture(state))), " ",
    el("button", { class: "btn small", type: "button", onclick: () => { state.back = null; box.remove(); } }, t("common.ok")));
  $("main")?.prepend(box);
}

/** The meeting is full (4429): said in words, full width, while the page asks again by itself
 * (every 15-30 s, protocol.js); not a replaced tab nor a lost connection. */
function renderFull(state) {
  const full = !!state.full && !state.ended;
  document.body.classList.toggle("meeting-full", full);
  const box = $("#full");
  if (full && !box) {
    $("main")?.prepend(el("div", { class: "container", id: "full" }, el("div", { class: "card", role: "status" },
      emptyState("users", t("live.full"), t("live.full_detail")))));
  } else if (!full && box) box.remove();
}

/** A live page opened without this tab's credentials (a closed tab opened again, a bookmark):
 * the way back is the link this browser joined through last, one button away. */
function showNoSession() {
  const link = lastJoinedLink();
  document.querySelector("main").replaceChildren(el("div", { class: "container" }, el("div", { class: "card" },
    emptyState("lock", t("live.not_joined"), link ? t("live.not_joined_rejoin") : t("live.not_joined_detail"),
      link ? el("a", { class: "btn primary", id: "rejoin-last", href: `/join.html#t=${link}` }, t("left.rejoin")) : null))));
}

function showAutoplayBanner(rtc) {
  if ($("#autoplay")) return;
  const b = el("div", { class: "alert warn container", id: "autoplay", role: "alert", style: "margin-top:12px" },
    t("live.autoplay"), " ", el("button", { class: "btn small primary", type: "button", onclick: () => { rtc.audio.play(); b.remove(); } }, t("live.start_sound")));
  $("main").prepend(b);
}

// ---------------------------------------------------------------- shared widgets
export function channelPicker(state, onPick) {
  const chans = ["floor", ...state.meeting.languages];
  const current = state.subscription.channel;
  return el("div", { class: "channels", role: "radiogroup", "aria-label": t("listen.to") }, ...chans.map((c) => {
    const route = state.channels[c]?.route;
    const status = c === "floor" ? t("route.original")
      : { interpretation: t("route.interpreted"), floor_language: t("route.original"), auto_floor: t("route.auto_floor"), silence: t("route.silence") }[route] || "";
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

/** One person in a list. `lineQuality`: show their line's quality (the chair and the organizer
 * see everyone's; a delegate only their own). */
export function participantRow(p, { extra = null, speaking = false, lineQuality = false, camera = false } = {}) {
  const away = p.connected === false;
  const q = lineQuality && !away && (p.quality === "poor" || p.quality === "fair") ? p.quality : null;
  // camera: mark who would take the floor audio only (their peer sends no video)
  const audioOnly = camera && !away && p.camera === false && (p.role === "delegate" || p.role === "chair");
  return el("li", { "data-participant": p.id, class: away ? "away" : null },
    el("span", { class: `avatar${speaking ? " speaking" : ""}`, "aria-hidden": "true" }, (p.name || "?").split(/\s+/).slice(0, 2).map((w) => w[0]).join("").toUpperCase()),
    el("div", { class: "who" }, el("div", { class: "n" }, p.name || t("common.participant"), speaking ? el("span", { class: "visually-hidden" }, ` ${t("live.speaking_sr")}`) : null),
      el("div", { class: "d" }, [p.delegation, p.role === "interpreter" && p.booth ? `${t("role.interpreter")} · ${langName(p.booth)}` : p.role !== "delegate" ? t(`role.${p.role}`) : null,
        away ? t("conn.reconnecting") : null].filter(Boolean).join(" · "),
      q ? el("span", { class: `line-q ${q}`, title: t("quality.title") }, icon("wifi", 12), " ", q === "poor" ? t("quality.poor_line") : t("quality.fair_line")) : null,
      audioOnly ? el("span", { class: "audio-only", "data-audio-only": p.id }, icon("videooff", 12), " ", t("video.no_camera")) : null)),
    extra);
}
export { icon };
