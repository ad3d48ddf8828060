// The connection-quality grade (web/js/rtc.js gradeQuality): what the badge shows and what the
// page reports to the server as `quality`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gradeQuality } from "../../../web/js/rtc.js";

test("nothing measured yet is unknown", () => {
  assert.equal(gradeQuality({}), "unknown");
  assert.equal(gradeQuality({ rtt: null, received: 0 }), "unknown");
});

test("a clean line is good; each threshold makes it fair, then poor", () => {
  assert.equal(gradeQuality({ rtt: 0.05, jitter: 0.01, loss: 0, received: 100 }), "good");
  assert.equal(gradeQuality({ rtt: null, received: 50 }), "good"); // packets, no RTT yet
  assert.equal(gradeQuality({ rtt: 0.05, loss: 0.02, received: 100 }), "fair");
  assert.equal(gradeQuality({ rtt: 0.25, received: 100 }), "fair");
  assert.equal(gradeQuality({ rtt: 0.05, loss: 0.06, received: 100 }), "poor");
  assert.equal(gradeQuality({ rtt: 0.5, received: 100 }), "poor");
  assert.equal(gradeQuality({ rtt: 0.05, jitter: 0.08, received: 100 }), "poor");
});

test("the thresholds themselves are the better grade", () => {
  assert.equal(gradeQuality({ rtt: 0.2, loss: 0.01, received: 1 }), "good");
  assert.equal(gradeQuality({ rtt: 0.4, loss: 0.05, jitter: 0.05, received: 1 }), "fair");
});
