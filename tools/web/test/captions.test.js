// Captions on the delegate page (web/js/captions.js): what is kept, and which way it reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addCaption, isRtl, loadSettings, placeholder } from "../../../web/js/captions.js";

const cap = (text, extra = {}) => ({ type: "caption", channel: "fr", text, language: "fr", final: true, floor: false, start: 1, end: 2, ...extra });

test("the newest three captions of the channel heard are kept; a new channel starts afresh", () => {
  let lines = [];
  for (const t of ["a", "b", "c", "d"]) lines = addCaption(lines, cap(t), "fr");
  assert.deepEqual(lines.map((l) => l.text), ["b", "c", "d"]);
  lines = addCaption(lines, cap("e", { channel: "floor", floor: true, language: "en" }), "es");
  assert.deepEqual(lines.map((l) => [l.text, l.floor]), [["e", true]]);
});

test("Arabic and Hebrew read right to left, the others left to right", () => {
  assert.equal(isRtl("ar"), true);
  assert.equal(isRtl("he"), true);
  assert.equal(isRtl("fr"), false);
  assert.equal(isRtl(null), false);
});

test("settings default to on, medium, bottom, and survive bad storage", () => {
  assert.deepEqual(loadSettings({ getItem: () => null }), { on: true, size: "medium", position: "bottom" });
  assert.deepEqual(loadSettings({ getItem: () => "{bad" }), { on: true, size: "medium", position: "bottom" });
  assert.deepEqual(loadSettings({ getItem: () => '{"on":false,"size":"large","position":"top"}' }), { on: false, size: "large", position: "top" });
});

test("a channel the organizer did not caption says so; a captioned one waits quietly", () => {
  assert.equal(placeholder(["floor", "ar"], "fr"), "No captions for this channel");
  assert.equal(placeholder(["floor", "ar"], "ar"), "");
  assert.equal(placeholder(undefined, "floor"), "No captions for this channel");
  assert.equal(placeholder(["floor"], null), "");
});
