// WebSocket client for the MIRP signaling protocol (docs/protocol.md).
// One function per client message; typed handlers for server messages; a heartbeat answer; and
// automatic reconnect with the same participant token and the `resume` handle of the welcome (a
// reconnect is a new Session of the same Participant; the server keeps our floor and booth state
// for its grace period). Message names, caps and close codes come from wire.js, generated from
// the server's definitions.

import { CLIENT_MESSAGES, CLOSE, CLOSE_CODES, FINAL_ERRORS, PROTOCOL_VERSION } from "./wire.js";

export { PROTOCOL_VERSION };
export const MEETING_FULL = CLOSE.MEETING_FULL;

// Close codes after which reconnecting cannot help (`final` in wire.js): the server refused this
// token or this participant for good (invalid, unauthorized, forbidden/removed/revoked, meeting
// gone, replaced by a newer session of the same participant, meeting closed). Too slow, meeting
// full (someone may leave), a server restarting or busy, and any code the table does not name
// do reconnect.
export const isFinalClose = (code) => CLOSE_CODES[code]?.final === true;

// ---- reconnect back-off (docs/client.md) -------------------------------------------------------
// Exponential with jitter, capped: 0.5 s, 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s, each drawn
// uniformly from half to all of that ("equal jitter"), so that a thousand pages dropped at once
// (a server restart, a storm answered with 1013) come back spread out, not in waves. The server
// may name a minimum wait (`details.retry_after_s` of the error before the close): it is
// honoured, with jitter too.
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30000;
export function reconnectDelay(attempt, retryAfterS = null, random = Math.random) {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, attempt - 1));
  let delay = ceiling / 2 + random() * (ceiling / 2);
  if (retryAfterS != null && Number.isFinite(retryAfterS) && retryAfterS > 0) {
    const floor = Math.min(RECONNECT_CAP_MS, retryAfterS * 1000);
    delay = Math.max(delay, floor * (1 + random() * 0.5));
  }
  return Math.round(delay);
}
// A full meeting is asked again slowly (15-30 s), not at the quick pace of a lost connection.
const retryDelay = (code, attempt, retryAfterS) => CLOSE_CODES[code]?.retry === "slow"
  ? 15000 * (1 + Math.random())
  : reconnectDelay(attempt, retryAfterS);
// ------------------------------------------------------------------------------------------------

export class Protocol {
  constructor({ token, url } = {}) {
    this.token = token;
    this.url = url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    this.ws = null;
    this.handlers = new Map();
    this.closedByUs = false;
    this.final = false;
    this.attempt = 0;
    this.retryAfterS = null; // the server's minimum wait before the next reconnect, if it named one
    this.msgId = 0;
    this.status = "idle";
    this.resumeId = null;
    this.lastSeq = -1; // the last room event applied (welcome.seq, then each event's seq)
    this.pending = new Map(); // message id -> type, to name the refused action in errors
  }

  // ------------------------------------------------------------- handlers
  on(type, fn) { (this.handlers.get(type) || this.handlers.set(type, []).get(type)).push(fn); return this; }
  emit(type, msg) {
    for (const fn of this.handlers.get(type) || []) { try { fn(msg); } catch (e) { console.error(`handler ${type}`, e); } }
  }
  setStatus(s, detail) { this.status = s; this.emit("_status", { status: s, ...detail }); }

  // ------------------------------------------------------------- connection
  connect() {
    this.closedByUs = false;
    this.setStatus(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.send("hello", { token: this.token, v: PROTOCOL_VERSION, ...(this.resumeId ? { resume: this.resumeId } : {}) });
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg.type !== "string") return;
      switch (msg.type) {
        case "ping": this.send("pong", msg.t != null ? { t: msg.t } : {}); return;
        case "welcome":
          this.attempt = 0;
          this.resumeId = msg.resume || this.resumeId;
          this.lastSeq = typeof msg.seq === "number" ? msg.seq : -1;
          this.setStatus("open");
          break;
        case "error":
          if (msg.id != null) msg.request = this.pending.get(msg.id);
          if (msg.fatal) this.final = FINAL_ERRORS.includes(msg.code);
          if (msg.fatal && typeof msg.details?.retry_after_s === "number") this.retryAfterS = msg.details.retry_after_s;
          break;
        default:
          // room events carry `seq`: one folded into the welcome already, or seen twice, is dropped
          if (typeof msg.seq === "number") {
            if (msg.seq <= this.lastSeq) return;
            this.lastSeq = msg.seq;
          }
      }
      if (msg.id != null && (msg.type === "ack" || msg.type === "error" || msg.type === "answer")) this.pending.delete(msg.id);
      this.emit("*", msg); // the view of the Room first, then the handlers that act on it
      this.emit(msg.type, msg);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.emit("_closed", { code: ev.code, reason: ev.reason });
      if (this.closedByUs || this.final || isFinalClose(ev.code)) {
        this.setStatus("closed", { code: ev.code, reason: ev.reason });
        return;
      }
      this.attempt += 1;
      const delay = retryDelay(ev.code, this.attempt, this.retryAfterS);
      this.retryAfterS = null;
      this.setStatus("reconnecting", { in_ms: delay, code: ev.code, reason: ev.reason });
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
  close() { this.closedByUs = true; clearTimeout(this.timer); try { this.ws?.close(CLOSE.NORMAL); } catch { /* closed */ } }
  /** Stop for good (the meeting closed, we were removed): no reconnect after the server closes. */
  stop() { this.final = true; }

  // ------------------------------------------------------------- client messages, one function each
  offer(sdp) { return this.send("offer", { sdp }); }
  candidate(c) { return this.send("ice", { candidate: c }); }
  subscribe(channel, floorUnder = null) { return this.send("subscribe", { channel, floor_under: floorUnder }); }
  quality(q) { return this.send("quality", q); }
  requestFloor() { return this.send("floor_request", { kind: "speak" }); }
  pointOfOrder() { return this.send("floor_request", { kind: "point_of_order" }); }
  withdrawFloor() { return this.send("floor_withdraw"); }
  // chair
  giveFloor(participantId) { return this.send("floor_give", { participant_id: participantId }); }
  takeFloor(participantId) { return this.send("floor_take", { participant_id: participantId }); }
  reorder(order) { return this.send("speakers_reorder", { order }); }
  setTimeLimit(seconds) { return this.send("floor_time_limit", { seconds }); }
  mute(participantId, muted = true) { return this.send("participant_mute", { participant_id: participantId, muted: !!muted }); }
  setFloorLanguage(language) { return this.send("floor_language", { language }); }
  setFloorRoom(mode) { return this.send("floor_room", { mode }); }
  /** The language I (or, for the chair, `participantId`) speak on the floor; null: the invitation's. */
  setSpokenLanguage(language, participantId = null) { return this.send("participant_language", { language, participant_id: participantId }); }
  openMeeting() { return this.send("meeting_open"); }
  closeMeeting() { return this.send("meeting_close"); }
  removeParticipant(participantId) { return this.send("participant_remove", { participant_id: participantId }); }
  // interpreter
  setOnAir(on) { return this.send("on_air", { on: !!on }); }
  setOutput(channel) { return this.send("console_output", { channel }); }
  cough(on) { return this.send("cough", { on: !!on }); }
  requestHandover(to) { return this.send("handover_request", { to: to || null }); }
  acceptHandover() { return this.send("handover_accept"); }
  declineHandover() { return this.send("handover_decline"); }
  boothChat(text) { return this.send("booth_chat", { text }); }
  slowDown() { return this.send("slow_down"); }
  /** Leave for good (a closed socket alone is a disconnection that keeps the floor a while). */
  leave() { return this.send("leave"); }

  send(type, fields = {}) {
    if (!(type in CLIENT_MESSAGES)) throw new Error(`not a client message: ${type}`);
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    const id = ++this.msgId;
    if (type !== "pong" && type !== "ice") {
      this.pending.set(id, type);
      if (this.pending.size > 200) this.pending.delete(this.pending.keys().next().value);
    }
    this.ws.send(JSON.stringify({ type, id, ...fields }));
    return true;
  }
}
