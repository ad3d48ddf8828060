// The participant's credentials for this tab (sessionStorage: a reload or reconnect keeps them,
// another tab does not share them).
import { t, has, errorText } from "./i18n.js";
const KEY = "mirp.participant";

export function saveParticipant(p) { sessionStorage.setItem(KEY, JSON.stringify(p)); }
export function loadParticipant() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { return null; }
}
export function clearParticipant() { sessionStorage.removeItem(KEY); }

export const SENDING_ROLES = new Set(["delegate", "chair", "interpreter", "room"]);
export function pageForRole(role) {
  return { chair: "/chair.html", interpreter: "/console.html", organizer: "/chair.html", room: "/room.html" }[role] || "/delegate.html";
}

// The participant token each invitation link gave this browser (localStorage: it outlives the
// tab). It is presented on the next join through the same link, so the server returns the same
// participant (refused if the chair removed them) instead of making a new one; a named link
// brings its person back without it too (docs/api.md). Clearing the browser's data forgets it:
// docs/operations.md.
const JOINED = "mirp.joined";
export function joinedThrough(link) {
  try { return JSON.parse(localStorage.getItem(JOINED) || "{}")[link] || null; } catch { return null; }
}
export function rememberJoin(link, participantToken) {
  let all = {};
  try { all = JSON.parse(localStorage.getItem(JOINED) || "{}") || {}; } catch { /* start again */ }
  delete all[link];
  all[link] = participantToken;
  const links = Object.keys(all);
  for (const old of links.slice(0, Math.max(0, links.length - 20))) delete all[old];
  try { localStorage.setItem(JOINED, JSON.stringify(all)); } catch { /* storage full or off */ }
}

/** The invitation link this browser joined through last (a closed tab's way back), or null. */
export function lastJoinedLink() {
  try { return Object.keys(JSON.parse(localStorage.getItem(JOINED) || "{}") || {}).at(-1) || null; } catch { return null; }
}

// What the Leave page needs to bring this tab back (sessionStorage: this tab only): the link,
// the meeting's title, the microphone picked.
const LEFT = "mirp.left";
export function saveLeft(p) {
  try { sessionStorage.setItem(LEFT, JSON.stringify(p)); } catch { /* storage off */ }
}
export function loadLeft() {
  try { return JSON.parse(sessionStorage.getItem(LEFT) || "null"); } catch { return null; }
}

/** Join through `link` as the participant this browser already is there (or a named link's
 * one person): saves the credentials for the live page and answers the page to open. */
export async function rejoin(api, link, extra = {}) {
  const before = joinedThrough(link);
  const res = await api.join(link, before ? { participant_token: before } : {});
  rememberJoin(link, res.participant_token);
  saveParticipant({ ...res, invitation_token: link, ...extra, meeting: res.meeting || extra.meeting });
  return pageForRole(res.role);
}

/** Why a link cannot be used, for people: by error code (`join.error.<code>`: closed, gone, too
 * many attempts), then by the refusal's reason (`error.reason.<reason>`), then the words for an
 * invalid link; the catalogue's words (web/i18n/). */
export function whyNot(e) {
  if (e?.code !== "unauthorized" && e?.code && has(`join.error.${e.code}`)) return t(`join.error.${e.code}`);
  const reason = e?.details?.reason;
  if (reason && has(`error.reason.${reason}`)) return t(`error.reason.${reason}`);
  return errorText(e, "join.error");
}
