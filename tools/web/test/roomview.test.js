// The page's view of the Room (web/js/roomview.js): what each server message does to it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { emptyRoomView, applyServerMessage, applyStatus } from "../../../web/js/roomview.js";
import { CLOSE } from "../../../web/js/wire.js";

const NOW = 1_700_000_000_000;

function view() {
  const s = emptyRoomView();
  s.me = { id: "p-me", name: "Me", role: "delegate" };
  return s;
}

const WELCOME = {
  type: "welcome", participant_id: "p-me", seq: 7,
  room: {
    meeting: { title: "Plenary", languages: ["en", "fr"], status: "open" },
    participants: [
      { participant_id: "p-me", name: "Me", role: "delegate" },
      { participant_id: "p-chair", name: "Chair", role: "chair", connected: false },
    ],
    floor: { holders: ["p-chair"], language: "en", remaining_s: 30, speakers: ["p-me"], muted: [] },
    booths: { fr: { on_air: "p-int", channel: "fr", handover: null } },
    channels: { fr: { route: "interpretation", listeners: 3 } },
    subscription: { channel: "fr", floor_under: -18, auto: false },
  },
};

test("a welcome replaces the view with the room's snapshot", () => {
  const s = view();
  s.participants.set("p-gone", { id: "p-gone" });
  s.heard = { channel: "es", floor_under: null, auto: false };
  assert.equal(applyServerMessage(s, WELCOME, NOW), null);
  assert.equal(s.meeting.title, "Plenary");
  assert.deepEqual([...s.participants.keys()], ["p-me", "p-chair"]);
  assert.equal(s.participants.get("p-chair").connected, false);
  assert.equal(s.participants.get("p-me").connected, true);
  assert.deepEqual(s.floor.holders, ["p-chair"]);
  assert.equal(s.floor.deadline, NOW + 30_000);
  assert.deepEqual(s.floor.speakers, [{ participant_id: "p-me", kind: "speak" }]);
  assert.equal(s.booths.fr.language, "fr");
  assert.deepEqual(s.booths.fr.consoles, {});
  assert.equal(s.channels.fr.listeners, 3);
  assert.deepEqual(s.heard, { channel: "fr", floor_under: -18, auto: false });
  assert.equal(s.subscription, s.heard);
  assert.equal(s.ended, null);
});

test("participants keyed by id in the snapshot take their id from the key", () => {
  const s = view();
  applyServerMessage(s, { type: "welcome", room: { participants: { "p-1": { name: "One" } } } }, NOW);
  assert.equal(s.participants.get("p-1").name, "One");
  assert.equal(s.participants.get("p-1").id, "p-1");
});

test("a welcome without a subscription forgets what the old Session heard", () => {
  const s = view();
  s.heard = { channel: "fr", floor_under: null, auto: false };
  applyServerMessage(s, { type: "welcome", room: {} }, NOW);
  assert.equal(s.heard, null);
});

test("a welcome to a closed meeting ends the page", () => {
  const s = view();
  applyServerMessage(s, { type: "welcome", room: { meeting: { status: "closed" } } }, NOW);
  assert.match(s.ended, /closed/);
});

test("participant events merge; participant_left forgets", () => {
  const s = view();
  applyServerMessage(s, { type: "participant_joined", participant: { participant_id: "p-1", name: "One", role: "delegate" } }, NOW);
  applyServerMessage(s, { type: "participant", participant_id: "p-1", quality: "poor" }, NOW);
  assert.deepEqual(s.participants.get("p-1"), { participant_id: "p-1", name: "One", role: "delegate", quality: "poor", id: "p-1", connected: true });
  applyServerMessage(s, { type: "participant", participant_id: "p-1", connected: false }, NOW);
  assert.equal(s.participants.get("p-1").connected, false);
  assert.equal(s.participants.get("p-1").name, "One");
  applyServerMessage(s, { type: "participant_left", participant_id: "p-1" }, NOW);
  assert.equal(s.participants.has("p-1"), false);
});

test("line_quality sets the grade of a known participant only", () => {
  const s = view();
  applyServerMessage(s, { type: "participant_joined", participant: { participant_id: "p-1", name: "One", role: "delegate" } }, NOW);
  applyServerMessage(s, { type: "line_quality", participant_id: "p-1", grade: "poor" }, NOW);
  assert.equal(s.participants.get("p-1").quality, "poor");
  applyServerMessage(s, { type: "participant", participant_id: "p-1", connected: false }, NOW);
  assert.equal(s.participants.get("p-1").quality, "poor");
  applyServerMessage(s, { type: "line_quality", participant_id: "p-2", grade: "fair" }, NOW);
  assert.equal(s.participants.has("p-2"), false);
});

test("a participant event without an id changes nothing", () => {
  const s = view();
  applyServerMessage(s, { type: "participant", name: "Nobody" }, NOW);
  assert.equal(s.participants.size, 0);
});

test("a floor event replaces the floor: a single holder, no time limit", () => {
  const s = view();
  applyServerMessage(s, { type: "floor", holder: "p-1", speakers: [{ participant_id: "p-2", kind: "point_of_order" }] }, NOW);
  assert.deepEqual(s.floor, {
    holders: ["p-1"], language: null, time_limit_s: null, remaining_s: null, deadline: null,
    speakers: [{ participant_id: "p-2", kind: "point_of_order" }], muted: [], room: "both",
  });
});

test("booth events merge into the booth of their language", () => {
  const s = view();
  applyServerMessage(s, { type: "booth", language: "fr", on_air: "p-a" }, NOW);
  applyServerMessage(s, { type: "booth", language: "fr", cough: true }, NOW);
  assert.deepEqual(s.booths.fr, { consoles: {}, language: "fr", on_air: "p-a", cough: true });
});

test("subscribed is what the server confirmed the Session hears", () => {
  const s = view();
  applyServerMessage(s, { type: "subscribed", channel: "floor", auto: true }, NOW);
  assert.deepEqual(s.heard, { channel: "floor", floor_under: null, auto: true });
});

test("chat lines are dated by the server when it says, else now", () => {
  const s = view();
  assert.deepEqual(applyServerMessage(s, { type: "chat", from: "p-1", text: "hi", at: 12 }, NOW), { chat: true });
  applyServerMessage(s, { type: "chat", from: "p-1", text: "again" }, NOW);
  assert.deepEqual(s.chat.map((c) => c.at), [12_000, NOW]);
});

test("notices are worded for the page, naming who and which booth", () => {
  const s = view();
  s.participants.set("p-int", { id: "p-int", name: "Ines" });
  const slow = applyServerMessage(s, { type: "notice", kind: "slow_down", from: "p-int", booth: "fr" }, NOW);
  assert.deepEqual(slow, { notice: "Ines (Français) asks the speaker to slow down.", kind: "slow_down" });
  const mine = applyServerMessage(s, { type: "notice", kind: "time_up", participant_id: "p-me" }, NOW);
  assert.equal(mine.notice, "Your speaking time is up.");
  const other = applyServerMessage(s, { type: "notice", kind: "time_up", participant_id: "p-x" }, NOW);
  assert.equal(other.notice, "The speaker's speaking time is up.");
  assert.equal(applyServerMessage(s, { type: "notice", kind: "something_new" }, NOW).notice, "something_new");
  assert.equal(s.notices.length, 4);
});

test("a meeting closed by the chair ends the page and stops the Session", () => {
  const s = view();
  assert.equal(applyServerMessage(s, { type: "meeting", meeting: { status: "open", title: "New" } }, NOW), null);
  assert.equal(s.meeting.title, "New");
  assert.deepEqual(applyServerMessage(s, { type: "meeting", status: "closed" }, NOW), { closed: true });
  assert.match(s.ended, /closed the meeting/);
});

test("removed ends the page with the server's reason", () => {
  const s = view();
  assert.deepEqual(applyServerMessage(s, { type: "removed", reason: "Removed by the chair." }, NOW), { removed: true });
  assert.equal(s.ended, "Removed by the chair.");
});

test("refusals are kept, the last twenty, the newest as lastError", () => {
  const s = view();
  for (let i = 0; i < 25; i++) {
    applyServerMessage(s, { type: "error", code: "forbidden", message: `no ${i}`, request: "floor_give" }, NOW);
  }
  assert.equal(s.errors.length, 20);
  assert.equal(s.errors[0].message, "no 5");
  assert.deepEqual(s.lastError, { code: "forbidden", message: "no 24", request: "floor_give", details: {} });
});

test("unknown messages change nothing", () => {
  const s = view();
  const before = JSON.stringify({ ...s, participants: [...s.participants] });
  assert.equal(applyServerMessage(s, { type: "from_the_future", x: 1 }, NOW), null);
  assert.equal(JSON.stringify({ ...s, participants: [...s.participants] }), before);
});

// ------------------------------------------------------------------ the Session's status
test("a full meeting is retried, and the bar knows why", () => {
  const s = view();
  applyStatus(s, { status: "reconnecting", code: CLOSE.MEETING_FULL, in_ms: 20_000 });
  assert.equal(s.full, true);
  assert.deepEqual(s.reconnect, { code: CLOSE.MEETING_FULL, in_ms: 20_000 });
  applyStatus(s, { status: "open" });
  assert.equal(s.full, false);
  assert.equal(s.reconnect, null);
  assert.equal(s.ended, null);
});

test("the server being busy (unavailable) is a reconnect, not an end", () => {
  const s = view();
  applyStatus(s, { status: "reconnecting", code: CLOSE.TRY_AGAIN, in_ms: 900 });
  assert.equal(s.connection, "reconnecting");
  assert.deepEqual(s.reconnect, { code: 1013, in_ms: 900 });
  assert.equal(s.ended, null);
});

test("replaced by another tab: ended, with a way to come back", () => {
  const s = view();
  applyStatus(s, { status: "closed", code: CLOSE.REPLACED, reason: "replaced" });
  assert.match(s.ended, /another tab or on another device/);
  assert.match(s.ended, /take it back/);
  assert.equal(s.retry, true);
});

test("a meeting not open yet is the waiting room, not an end", () => {
  const s = view();
  applyServerMessage(s, { type: "error", code: "forbidden", message: "not open", details: { reason: "not_open" }, fatal: true }, NOW);
  applyStatus(s, { status: "closed", code: CLOSE.FORBIDDEN, reason: "forbidden" });
  assert.equal(s.waiting, true);
  assert.equal(s.ended, null);
  applyStatus(s, { status: "open" });
  assert.equal(s.waiting, false);
});

test("closed by the chair; other refusals show the server's reason", () => {
  const closed = view();
  applyStatus(closed, { status: "closed", code: CLOSE.MEETING_CLOSED });
  assert.match(closed.ended, /closed the meeting/);
  assert.equal(closed.retry, false);
  const other = view();
  applyStatus(other, { status: "closed", code: CLOSE.UNAUTHORIZED, reason: "Your invitation expired." });
  assert.equal(other.ended, "Your invitation expired.");
});

test("the chair who closed the meeting is not thanked for taking part", () => {
  for (const role of ["chair", "organizer"]) {
    const s = view();
    s.me.role = role;
    applyServerMessage(s, { type: "meeting", meeting: { status: "closed" } }, NOW);
    assert.equal(s.ended, "The meeting is closed.");
  }
  const d = view();
  applyServerMessage(d, { type: "meeting", meeting: { status: "closed" } }, NOW);
  assert.match(d.ended, /Thank you for taking part/);
});

test("a final refusal says why in words: its reason, then its code", () => {
  const cases = [
    [{ code: "forbidden", details: { reason: "removed" } }, CLOSE.FORBIDDEN, /removed you/],
    [{ code: "forbidden", details: { reason: "revoked" } }, CLOSE.FORBIDDEN, /invitation was revoked/],
    [{ code: "forbidden", details: { reason: "booth_removed" } }, CLOSE.FORBIDDEN, /booth was removed/],
    [{ code: "forbidden", details: { reason: "wrong_meeting" } }, CLOSE.FORBIDDEN, /another meeting/],
    [{ code: "unauthorized", details: {} }, CLOSE.UNAUTHORIZED, /not valid or has expired/],
    [{ code: "not_found", details: { reason: "deleted" } }, CLOSE.NOT_FOUND, /deleted/],
    [{ code: "meeting_closed", details: { reason: "closed" } }, CLOSE.MEETING_CLOSED, /closed the meeting/],
  ];
  for (const [err, code, text] of cases) {
    const s = view();
    applyServerMessage(s, { type: "error", message: "x", fatal: true, ...err }, NOW);
    applyStatus(s, { status: "closed", code, reason: "x" });
    assert.match(s.ended, text, JSON.stringify(err));
    assert.doesNotMatch(s.ended, /another tab|window/);
  }
  // a refused command earlier is not the reason of a later close
  const s = view();
  applyServerMessage(s, { type: "error", code: "forbidden", message: "not yours", details: { reason: "removed" } }, NOW);
  applyStatus(s, { status: "closed", code: CLOSE.UNAUTHORIZED, reason: "expired" });
  assert.match(s.ended, /not valid or has expired|expired/);
});

test("a close of our own (leaving, 1000) does not end the page with a message", () => {
  const s = view();
  applyStatus(s, { status: "closed", code: 1000 });
  assert.equal(s.connection, "closed");
  assert.equal(s.ended, null);
});

test("the first end is kept", () => {
  const s = view();
  applyServerMessage(s, { type: "removed", reason: "Removed." }, NOW);
  applyStatus(s, { status: "closed", code: CLOSE.FORBIDDEN, reason: "forbidden" });
  assert.equal(s.ended, "Removed.");
});

test("a return tells what changed for me: floor, on air, my place on the list", async () => {
  const { whatChanged, backText, myPicture } = await import("../../../web/js/roomview.js");
  const s = view();
  const first = { ...WELCOME, session_id: "s1", room: { ...WELCOME.room, floor: { holders: ["p-me"], speakers: ["p-a", "p-b"] } } };
  applyServerMessage(s, first, NOW);
  assert.equal(s.back, undefined); // a first welcome is no return
  s.sessionId = "s1"; // live.js keeps it
  // the same Session again (a resync) is no return either
  applyServerMessage(s, first, NOW);
  assert.equal(s.back, undefined);
  applyServerMessage(s, { ...WELCOME, session_id: "s2", room: { ...WELCOME.room, restored: true, floor: { holders: [], speakers: ["p-a", "p-me"] } } }, NOW + 5);
  assert.equal(s.back.restarted, true);
  assert.deepEqual(s.back.changes, ["You no longer have the floor.", "You are on the speakers list: 2nd."]);
  assert.match(backText(s.back, myPicture(s)), /^You are back after a server restart\. You no longer have the floor\./);
  // another return before the notice was dismissed: still the news since the first
  applyServerMessage(s, { ...WELCOME, session_id: "s3", room: { ...WELCOME.room, floor: { holders: [], speakers: ["p-a", "p-me"] } } }, NOW + 9);
  assert.deepEqual(s.back.changes, ["You no longer have the floor.", "You are on the speakers list: 2nd."]);
  assert.equal(s.back.restarted, true);
  s.back = null; // dismissed: the next return starts from what the person knows now
  applyServerMessage(s, { ...WELCOME, session_id: "s4", room: { ...WELCOME.room, floor: { holders: [], speakers: ["p-a", "p-me"] } } }, NOW + 12);
  assert.deepEqual(s.back.changes, []);

  const before = { floor: false, place: 3, listLength: 4, interpreter: true, onAir: true, partnerOnAir: false };
  assert.deepEqual(whatChanged(before, { ...before, onAir: false, partnerOnAir: true, place: 1 }),
    ["You are off air: your partner is on.", "The speakers list changed: you are now 1st."]);
  assert.deepEqual(whatChanged(before, { ...before, onAir: false, place: 0 }),
    ["You are off air: nobody in your booth is on air.", "You are no longer on the speakers list."]);
  assert.deepEqual(whatChanged(before, before), []);
  assert.equal(backText({ restarted: false, changes: [] }, { ...before, onAir: false }),
    "You are back in the meeting. Nothing changed. You are still 3rd on the speakers list.");
  const chair = { floor: false, place: 0, listLength: 3, interpreter: false, onAir: false, partnerOnAir: false };
  assert.deepEqual(whatChanged(chair, { ...chair, listLength: 0 }), ["The speakers list is empty now."]);
});

test("an interpreter's booth on air is theirs or their partner's", async () => {
  const { myPicture } = await import("../../../web/js/roomview.js");
  const s = view();
  s.me = { id: "p-int", role: "interpreter", booth: "fr" };
  applyServerMessage(s, { ...WELCOME, participant_id: "p-int" }, NOW);
  assert.equal(myPicture(s).onAir, true);
  s.me.id = "p-other";
  assert.deepEqual([myPicture(s).onAir, myPicture(s).partnerOnAir], [false, true]);
});

test("the return notice and the refusals are the catalogue's words (web/i18n), not the code's", async () => {
  const { t } = await import("../../../web/js/i18n.js");
  const { whatChanged, backText, refusalText, closedText, REPLACED_TEXT } = await import("../../../web/js/roomview.js");
  assert.equal(REPLACED_TEXT, t("live.replaced"));
  assert.equal(closedText({ me: { role: "chair" } }), t("live.closed"));
  assert.equal(closedText({ me: { role: "delegate" } }), t("live.closed_by_chair"));
  assert.equal(refusalText({ code: "forbidden", details: { reason: "wrong_meeting" } }), t("live.refusal.wrong_meeting"));
  assert.equal(refusalText(null, "", null), t("live.disconnected"));
  const none = { floor: false, place: 0, listLength: 1, interpreter: false, onAir: false, partnerOnAir: false };
  assert.deepEqual(whatChanged(none, { ...none, listLength: 2 }), [t("back.list_waiting", { count: 2 })]);
  assert.deepEqual(whatChanged(none, { ...none, listLength: 2 }), ["The speakers list changed: 2 waiting."]);
  assert.deepEqual(whatChanged(none, { ...none, place: 2, floor: false }), [t("back.list_joined", { place: "2nd" })]);
  assert.equal(backText({ restarted: true, changes: [] }, { ...none, floor: true }),
    [t("back.after_restart"), t("back.nothing"), t("back.still_floor")].join(" "));
});
