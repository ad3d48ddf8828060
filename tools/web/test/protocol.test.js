// The WebSocket client's pure parts (web/js/protocol.js): the reconnect back-off, which closes
// end the Session for good, and the messages it builds. A fake WebSocket stands in for the
// browser's: node runs the module as the page does.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Protocol, reconnectDelay, RECONNECT_BASE_MS, RECONNECT_CAP_MS } from "../../../web/js/protocol.js";
import { CLOSE } from "../../../web/js/wire.js";

class FakeSocket {
  static OPEN = 1;
  static all = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; FakeSocket.all.push(this); }
  open() { this.readyState = FakeSocket.OPEN; this.onopen?.(); }
  send(text) { this.sent.push(JSON.parse(text)); }
  receive(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  close(code = 1000, reason = "") { this.readyState = 3; this.onclose?.({ code, reason }); }
}
globalThis.WebSocket = FakeSocket;

const clients = [];
function connected() {
  const p = new Protocol({ token: "tok", url: "ws://test/ws" });
  clients.push(p);
  p.connect();
  const ws = FakeSocket.all.at(-1);
  ws.open();
  return { p, ws };
}
afterEach(() => { for (const p of clients.splice(0)) p.close(); FakeSocket.all.length = 0; });

// ------------------------------------------------------------------ back-off
test("the back-off doubles from half a second up to its cap, with equal jitter", () => {
  const low = () => 0, high = () => 0.999999;
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** (attempt - 1));
    assert.equal(reconnectDelay(attempt, null, low), Math.round(ceiling / 2), `attempt ${attempt}`);
    assert.equal(reconnectDelay(attempt, null, high), Math.round(ceiling * 0.9999995), `attempt ${attempt}`);
  }
  assert.equal(reconnectDelay(1, null, low), 250);
  assert.equal(reconnectDelay(20, null, high), RECONNECT_CAP_MS);
});

test("the server's retry_after_s is a floor, jittered up to half again, within the cap", () => {
  assert.equal(reconnectDelay(1, 4, () => 0), 4000);
  assert.equal(reconnectDelay(1, 4, () => 0.5), 5000);
  assert.equal(reconnectDelay(1, 3600, () => 0), RECONNECT_CAP_MS);
  // a nonsense value is ignored
  for (const bad of [0, -3, NaN, Infinity]) assert.equal(reconnectDelay(1, bad, () => 0), 250, String(bad));
});

// ------------------------------------------------------------------ which closes end it
function statusAfterClose(code) {
  const { p, ws } = connected();
  const seen = [];
  p.on("_status", (s) => seen.push(s));
  ws.close(code, "why");
  return seen.at(-1);
}

test("refusals (44xx) end the Session", () => {
  for (const code of [CLOSE.INVALID_MESSAGE, CLOSE.UNAUTHORIZED, CLOSE.FORBIDDEN, CLOSE.NOT_FOUND, CLOSE.REPLACED, CLOSE.MEETING_CLOSED]) {
    assert.equal(statusAfterClose(code).status, "closed", String(code));
  }
});

test("too slow, a full meeting, a busy server and a lost network reconnect", () => {
  for (const code of [CLOSE.TOO_SLOW, CLOSE.MEETING_FULL, CLOSE.TRY_AGAIN, 1006, 1012, 4000]) {
    const s = statusAfterClose(code);
    assert.equal(s.status, "reconnecting", String(code));
    assert.equal(s.code, code);
  }
});

test("a full meeting is asked again slowly (15 to 30 s)", () => {
  for (let i = 0; i < 20; i++) {
    const s = statusAfterClose(CLOSE.MEETING_FULL);
    assert.ok(s.in_ms >= 15_000 && s.in_ms <= 30_000, String(s.in_ms));
  }
});

test("a fatal unauthorized error before the close ends it whatever the code", () => {
  const { p, ws } = connected();
  ws.receive({ type: "error", code: "unauthorized", message: "no", fatal: true });
  let last = null;
  p.on("_status", (s) => { last = s; });
  ws.close(1011);
  assert.equal(last.status, "closed");
});

test("a welcome resets the attempts; a close of our own does not reconnect", () => {
  const { p, ws } = connected();
  ws.close(1006);
  assert.equal(p.attempt, 1);
  clearTimeout(p.timer);
  p.connect();
  const again = FakeSocket.all.at(-1);
  again.open();
  again.receive({ type: "welcome", resume: "r-1", seq: 3 });
  assert.equal(p.attempt, 0);
  assert.equal(p.status, "open");
  p.close();
  assert.equal(p.status, "closed");
});

// ------------------------------------------------------------------ messages
test("hello carries the token, the version and the resume handle of the last welcome", () => {
  const { p, ws } = connected();
  assert.deepEqual(ws.sent[0], { type: "hello", id: 1, token: "tok", v: 1 });
  ws.receive({ type: "welcome", resume: "r-9", seq: 0 });
  ws.close(1006);
  clearTimeout(p.timer);
  p.connect();
  const next = FakeSocket.all.at(-1);
  next.open();
  assert.equal(next.sent[0].type, "hello");
  assert.equal(next.sent[0].resume, "r-9");
});

test("each client message is one JSON object with a fresh id", () => {
  const { p, ws } = connected();
  ws.sent.length = 0;
  p.subscribe("fr", -18);
  p.requestFloor();
  p.pointOfOrder();
  p.mute("p-1");
  p.setOnAir(1);
  p.requestHandover();
  p.setTimeLimit(120);
  p.leave();
  assert.deepEqual(ws.sent, [
    { type: "subscribe", id: 2, channel: "fr", floor_under: -18 },
    { type: "floor_request", id: 3, kind: "speak" },
    { type: "floor_request", id: 4, kind: "point_of_order" },
    { type: "participant_mute", id: 5, participant_id: "p-1", muted: true },
    { type: "on_air", id: 6, on: true },
    { type: "handover_request", id: 7, to: null },
    { type: "floor_time_limit", id: 8, seconds: 120 },
    { type: "leave", id: 9 },
  ]);
});

test("nothing is sent while the socket is not open", () => {
  const p = new Protocol({ token: "tok", url: "ws://test/ws" });
  clients.push(p);
  p.connect();
  assert.equal(p.requestFloor(), false);
  assert.deepEqual(FakeSocket.all.at(-1).sent, []);
});

test("ping is answered with pong; an error names the request it refuses", () => {
  const { p, ws } = connected();
  ws.receive({ type: "ping", t: 42 });
  assert.deepEqual(ws.sent.at(-1), { type: "pong", id: 2, t: 42 });
  p.giveFloor("p-2");
  const errors = [];
  p.on("error", (m) => errors.push(m));
  ws.receive({ type: "error", id: 3, code: "forbidden", message: "chair only" });
  assert.equal(errors[0].request, "floor_give");
});

test("room events already applied (seq not above the last) are dropped", () => {
  const { p, ws } = connected();
  const seen = [];
  p.on("*", (m) => seen.push(m.seq ?? m.type));
  ws.receive({ type: "welcome", seq: 5 });
  for (const seq of [4, 5, 6, 6, 8, 7]) ws.receive({ type: "floor", seq });
  assert.deepEqual(seen, [5, 6, 8]); // the welcome (seq 5), then 6 and 8
});
