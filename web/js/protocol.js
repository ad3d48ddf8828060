// WebSocket client for the MIRP signaling protocol (DRAFT: to be aligned with docs/protocol.md).
// One function per client message; typed handlers for server messages; automatic reconnect with
// the same participant token (a reconnect is a new Session of the same Participant).

export class Protocol {
  constructor({ token, url } = {}) {
    this.token = token;
    this.url = url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    this.ws = null;
    this.handlers = new Map();
    this.closedByUs = false;
    this.attempt = 0;
    this.seq = 0;
    this.status = "idle";
    this.resumeId = null;
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
      this.send("hello", { token: this.token, resume: this.resumeId || undefined });
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "welcome") { this.attempt = 0; this.setStatus("open"); }
      this.emit(msg.type, msg);
      this.emit("*", msg);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.emit("_closed", { code: ev.code, reason: ev.reason });
      // 44xx: the server refuses this token for good (removed, revoked, unauthorized)
      if (this.closedByUs || (ev.code >= 4400 && ev.code < 4500)) { this.setStatus("closed", { code: ev.code, reason: ev.reason }); return; }
      this.attempt += 1;
      const delay = Math.min(8000, 400 * 2 ** Math.min(this.attempt, 5)) * (0.7 + Math.random() * 0.6);
      this.setStatus("reconnecting", { in_ms: delay });
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
  close() { this.closedByUs = true; clearTimeout(this.timer); try { this.ws?.close(1000); } catch { /* closed */ } }
  // ------------------------------------------------------------- client messages, one function each
  offer(sdp) { return this.send("offer", { sdp }); }
  candidate(c) { return this.send("ice", { candidate: c }); }
  subscribe(channel, floorUnder = null) { return this.send("subscribe", { channel, floor_under: floorUnder }); }
  requestFloor() { return this.send("floor_request", { kind: "speak" }); }
  pointOfOrder() { return this.send("floor_request", { kind: "point_of_order" }); }
  withdrawFloor() { return this.send("floor_withdraw"); }
  // chair
  giveFloor(participantId) { return this.send("floor_give", { participant_id: participantId }); }
  takeFloor(participantId) { return this.send("floor_take", { participant_id: participantId }); }
  reorder(order) { return this.send("speakers_reorder", { order }); }
  setTimeLimit(seconds) { return this.send("floor_time_limit", { seconds }); }
  mute(participantId) { return this.send("participant_mute", { participant_id: participantId }); }
  setFloorLanguage(language) { return this.send("floor_language", { language }); }
  openMeeting() { return this.send("meeting_open"); }
  closeMeeting() { return this.send("meeting_close"); }
  removeParticipant(participantId) { return this.send("participant_remove", { participant_id: participantId }); }
  // interpreter
  setOnAir(on) { return this.send("on_air", { on: !!on }); }
  setOutput(channel) { return this.send("console_output", { channel }); }
  cough(on) { return this.send("cough", { on: !!on }); }
  requestHandover(to) { return this.send("handover_request", { to: to || null }); }
  acceptHandover() { return this.send("handover_accept"); }
  boothChat(text) { return this.send("booth_chat", { text }); }
  slowDown() { return this.send("slow_down"); }

  send(type, fields = {}) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type, id: ++this.seq, ...fields }));
    return true;
  }
}
