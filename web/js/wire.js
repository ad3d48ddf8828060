// The WebSocket close codes the pages act on, by the error `code` that closes with them
// (src/mirp/errors.py, docs/protocol.md Close codes). Generated from the server's definitions by
// the protocol module's generator, which replaces this file; the names used here must stay
// (tools/web/test/wire.test.js checks that every `CLOSE.<name>` used in web/js exists here).
export const CLOSE = Object.freeze({
  invalid_input: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  not_found: 4404,
  too_slow: 4408,
  conflict: 4409, // replaced by a newer Session of the same Participant
  meeting_closed: 4410,
  meeting_full: 4429,
  unavailable: 1013, // busy, or the database away: try again
});
