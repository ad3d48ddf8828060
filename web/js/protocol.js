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
  send(type, fields = {}) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type, id: ++this.seq, ...fields }));
    return true;
  }
}
