// The participant's credentials for this tab (sessionStorage: a reload or reconnect keeps them,
// another tab does not share them).
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
