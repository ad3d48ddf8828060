// The page's view of the Room: one normalized state that the live pages render from, and the one
// function that applies a server message to it (`applyServerMessage`, the reducer). It is the only
// place that knows the server's shapes (the `welcome.room` snapshot and the events of
// docs/rooms.md). No DOM, no socket, no clock of its own (`now` is passed in):
// node runs it in tools/web/test/.
import { langName } from "./languages.js";
import { t, has, errorText, ordinal, lang as uiLang } from "./i18n.js";
import { CLOSE, CLOSE_CODES } from "./wire.js";

/** The Room as the pages see it (filled from the server's snapshot and events). */
export function emptyRoomView() {
  return {
    me: null, meeting: { title: "", languages: [], booths: [], under_levels_db: [-12, -18, -24], status: "open" },
    participants: new Map(), // id -> {id, name, role, delegation, booth, connected, muted}
    floor: { holders: [], language: null, time_limit_s: null, remaining_s: null, deadline: null, speakers: [], muted: [], room: "both" },
    booths: {}, // lang -> {on_air, channel, input, handover, cough, consoles: {id: {...}}}
    channels: {}, // channel -> {route, listeners}
    subscription: { channel: "floor", floor_under: null }, // what the page shows as chosen
    heard: null, // what the server confirmed (`subscribed`): what this Session really hears
    chat: [], notices: [], errors: [],
    connection: "connecting", quality: null, ended: null,
  };
}

function putParticipant(state, p) {
  const id = p.participant_id || p.id;
  if (!id) return;
  state.participants.set(id, { ...(state.participants.get(id) || {}), ...p, id, connected: p.connected !== false });
}
/** A flat event's fields without the envelope (`type`, `seq`): what is kept in the view. */
const payload = ({ type, seq, ...fields }) => fields;
const list = (v) => (Array.isArray(v) ? v : v && typeof v === "object" ? Object.entries(v).map(([k, x]) => ({ _key: k, ...x })) : []);
function applyFloor(state, f, now) {
  const speakers = f.speakers || f.speakers_list || [];
  state.floor = {
    holders: f.holders || (f.holder ? [f.holder] : []),
    language: f.language ?? null,
    time_limit_s: f.time_limit_s ?? null,
    remaining_s: f.remaining_s ?? null,
    deadline: f.remaining_s != null ? now + f.remaining_s * 1000 : null,
    speakers: speakers.map((x) => (typeof x === "string" ? { participant_id: x, kind: "speak" } : x)),
    muted: f.muted || [],
    room: f.room || "both", // hybrid meetings: where the floor is (docs/venue.md)
  };
}
function applyBooth(state, b) {
  const lang = b.language || b._key;
  state.booths[lang] = { consoles: {}, ...(state.booths[lang] || {}), ...b, language: lang };
}

/** Apply one server message to the page's view of the Room (in place); returns what the page may
 * announce or must do (`{closed}`, `{removed}`: stop the Session; `{chat}`, `{notice, kind}`), or
 * null. `now` (ms since the epoch) dates the floor's deadline, chat lines and notices. */
export function applyServerMessage(state, msg, now = Date.now()) {
  switch (msg.type) {
    case "welcome": {
      const r = msg.room || msg;
      // a welcome on a new Session after one before (a reconnection, a server restart): what this
      // person knew, to tell them what changed; a resync on the same Session is not a return
      const before = state.welcomed && !(msg.session_id != null && msg.session_id === state.sessionId)
        ? myPicture(state) : null;
      state.welcomed = true;
      if (r.meeting) Object.assign(state.meeting, r.meeting);
      state.participants = new Map();
      for (const p of list(r.participants)) putParticipant(state, p._key && !p.id && !p.participant_id ? { ...p, id: p._key } : p);
      if (r.floor) applyFloor(state, r.floor, now);
      state.booths = {};
      for (const b of list(r.booths)) applyBooth(state, b);
      if (r.channels) state.channels = r.channels;
      const sub = r.subscription || r.you?.subscription || r.me?.subscription;
      state.heard = null;
      if (sub?.channel) state.heard = state.subscription = { channel: sub.channel, floor_under: sub.floor_under ?? null, auto: !!sub.auto };
      if (msg.participant_id) state.me.id = msg.participant_id;
      if (state.meeting.status === "closed") state.ended = t("error.reason.closed");
      if (before) {
        // returns in a row before the person dismissed the notice: what changed since they last
        // knew (the picture before the first of them), so a second return does not hide the news
        const since = state.back?.since || before;
        state.back = { restarted: !!r.restored || !!state.back?.restarted, since, changes: whatChanged(since, myPicture(state)), at: now };
        return { back: state.back };
      }
      return null;
    }
    case "participant_joined":
    case "participant": putParticipant(state, msg.participant || payload(msg)); return null;
    case "participant_left": state.participants.delete(msg.participant_id); return null;
    // one's line quality grade: sent only to that participant and the chair and organizer
    case "line_quality": {
      const p = state.participants.get(msg.participant_id);
      if (p) p.quality = msg.grade;
      return null;
    }
    case "floor": applyFloor(state, msg, now); return null;
    case "booth": applyBooth(state, payload(msg)); return null;
    case "channels": state.channels = msg.channels || {}; return null;
    case "meeting": {
      Object.assign(state.meeting, msg.meeting || { status: msg.status });
      if (msg.closed || state.meeting.status === "closed") { state.ended = closedText(state); return { closed: true }; }
      return null;
    }
    case "subscribed": state.heard = state.subscription = { channel: msg.channel, floor_under: msg.floor_under ?? null, auto: !!msg.auto }; return null;
    case "chat": state.chat.push({ from: msg.from, text: msg.text, at: msg.at ? msg.at * 1000 : now }); return { chat: true };
    case "notice": {
      const who = (id) => state.participants.get(id)?.name;
      const text = msg.text || {
        slow_down: msg.booth ? t("notice.slow_down_booth", { name: who(msg.from) || t("notice.an_interpreter"), booth: langName(msg.booth) })
          : t("notice.slow_down", { name: who(msg.from) || t("notice.an_interpreter") }),
        time_up: msg.participant_id === state.me.id ? t("notice.time_up_you") : (who(msg.participant_id) ? t("notice.time_up", { name: who(msg.participant_id) }) : t("notice.time_up_speaker")),
        handover_expired: t("notice.handover_expired"),
        handover_declined: t("notice.handover_declined"),
      }[msg.kind] || msg.kind;
      state.notices.push({ kind: msg.kind, text, from: msg.from, at: now });
      return { notice: text, kind: msg.kind };
    }
    case "error": {
      // the last refusal explains a close that follows (details.reason `not_open`); the list,
      // bounded, is what a page or a test shows of what the server refused
      state.lastError = { code: msg.code, message: msg.message, request: msg.request, details: msg.details || {} };
      if (msg.fatal) state.lastFatal = state.lastError; // the reason for the close that follows
      state.errors.push(state.lastError);
      if (state.errors.length > 20) state.errors.shift();
      return null;
    }
    case "removed": state.ended = (uiLang === "en" && msg.reason) || t("live.refusal.removed"); return { removed: true }; // the server words it in English
    default: return null;
  }
}


/** A final close is the server refusing this Session for good (docs/protocol.md, Close codes). */
const isRefusal = (code) => CLOSE_CODES[code]?.final === true;

/** Apply the Session's status (`_status` of protocol.js: connecting, open, reconnecting, closed,
 * with the close code and reason) to the view: the bar's reconnect note, and why it ended. */
export function applyStatus(state, { status, code = null, reason = "", in_ms = null }) {
  state.connection = status;
  state.full = status === "reconnecting" && code === CLOSE.MEETING_FULL; // retried every 15-30 s
  // why we are reconnecting, for the bar: 1013 (try again) asks us to come back later
  state.reconnect = status === "reconnecting" && code != null ? { code, in_ms } : null;
  if (status === "open") state.waiting = false;
  if (status === "closed" && isRefusal(code) && !state.ended) {
    const why = state.lastError?.details?.reason;
    // before the chair opens the meeting: the waiting room (live.js tries again by itself)
    if (why === "not_open") { state.waiting = true; return; }
    state.retry = code === CLOSE.REPLACED;
    state.ended = code === CLOSE.REPLACED ? REPLACED_TEXT
        : code === CLOSE.MEETING_CLOSED ? closedText(state)
          : refusalText(state.lastFatal, reason, code);
  }
}

/** The replaced Session's page (4409): what happened, and that the button takes it back. */
export const REPLACED_TEXT = t("live.replaced");

/** The meeting closed: the presiding roles closed it, they are not thanked for taking part. */
export function closedText(state) {
  const role = state.me?.role;
  return role === "chair" || role === "organizer" ? t("live.closed") : t("live.closed_by_chair");
}

/** Why the server refused this Session for good, for people: the refusal's reason, then its
 * code (the live page's own words: `live.refusal.*`), then the general words for the error
 * (errorText: the server's message in English), then the close code's. */
export function refusalText(error, reason = "", code = null) {
  const why = error?.details?.reason;
  if (why && has(`live.refusal.${why}`)) return t(`live.refusal.${why}`);
  if (error?.code && has(`live.refusal_code.${error.code}`)) return t(`live.refusal_code.${error.code}`);
  if (error) return errorText(error);
  const name = CLOSE_CODES[code]?.name;
  if (reason || name) return errorText({ code: name, message: reason });
  return t("live.disconnected");
}

/** What one person knows of their own place in the Room: the floor, the speakers list, their
 * booth's microphone, the list's length (for the chair). */
export function myPicture(state) {
  const id = state.me?.id;
  const booth = state.me?.booth ? state.booths[state.me.booth] : null;
  return {
    floor: state.floor.holders.includes(id),
    place: state.floor.speakers.findIndex((x) => x.participant_id === id) + 1, // 0: not on it
    listLength: state.floor.speakers.length,
    interpreter: !!booth,
    onAir: !!booth && booth.on_air === id,
    partnerOnAir: !!booth && booth.on_air != null && booth.on_air !== id,
  };
}

/** After a reconnection or a restart: what changed for this person, in plain words (an empty
 * list: nothing did). `before` and `after` are `myPicture`s. */
export function whatChanged(before, after) {
  const out = [];
  if (before.floor && !after.floor) out.push(t("back.floor_lost"));
  if (!before.floor && after.floor) out.push(t("back.floor_given"));
  if (before.onAir && !after.onAir) out.push(after.partnerOnAir ? t("back.off_air_partner") : t("back.off_air_nobody"));
  if (!before.onAir && after.onAir) out.push(t("back.on_air"));
  if (before.place && !after.place && !after.floor) out.push(t("back.list_left"));
  else if (!before.place && after.place) out.push(t("back.list_joined", { place: ordinal(after.place) }));
  else if (before.place && after.place && before.place !== after.place) out.push(t("back.list_moved", { place: ordinal(after.place) }));
  else if (!before.place && !after.place && before.listLength !== after.listLength) {
    out.push(after.listLength ? t("back.list_waiting", { count: after.listLength }) : t("back.list_empty"));
  }
  return out;
}

/** The sentence a person reads after coming back: what changed, or that nothing did (and what
 * they still have). */
export function backText(back, picture) {
  const head = back.restarted ? t("back.after_restart") : t("back.back");
  if (back.changes.length) return [head, ...back.changes].join(" ");
  const still = picture.floor ? t("back.still_floor") : picture.onAir ? t("back.still_on_air")
    : picture.place ? t("back.still_place", { place: ordinal(picture.place) }) : "";
  return [head, t("back.nothing"), still].filter(Boolean).join(" ");
}
