// REST client for the MIRP server (docs/api.md). Every error comes back as
// {"error": {"code", "message", "details"}}; we throw it as an ApiError.
import { t } from "./i18n.js";

const ORGANIZER_KEY = "mirp.organizer";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "http_error";
    this.details = details || {};
  }
}

export function organizerSession() {
  try { return JSON.parse(localStorage.getItem(ORGANIZER_KEY) || "null"); } catch { return null; }
}
export function setOrganizerSession(value) {
  if (value) localStorage.setItem(ORGANIZER_KEY, JSON.stringify(value));
  else localStorage.removeItem(ORGANIZER_KEY);
}

async function request(method, path, { body, token, query } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const bearer = token === undefined ? organizerSession()?.token : token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let url = path;
  if (query) {
    const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null));
    url += `?${q}`;
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "network", t("error.network"));
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch { data = { raw: text }; } }
  if (!res.ok) {
    const err = data?.error || {};
    if (res.status === 401 && bearer && bearer === organizerSession()?.token) setOrganizerSession(null);
    throw new ApiError(res.status, err.code, err.message || data?.detail || res.statusText, err.details);
  }
  return data;
}

// the list endpoints may answer a bare array or {items: [...]}: accept both
const items = (data, key) => (Array.isArray(data) ? data : data?.[key] || data?.items || []);

export const api = {
  // --- organizer accounts
  signup: (email, name, password) => request("POST", "/api/auth/signup", { body: { email, name, password }, token: null }),
  login: (email, password) => request("POST", "/api/auth/login", { body: { email, password }, token: null }),
  me: () => request("GET", "/api/auth/me"),

  // --- meetings
  listMeetings: async () => items(await request("GET", "/api/meetings", { query: { limit: 1000 } }), "meetings"),  // paged (docs/api.md): the largest page
  createMeeting: (m) => request("POST", "/api/meetings", { body: m }),
  getMeeting: (id) => request("GET", `/api/meetings/${encodeURIComponent(id)}`),
  updateMeeting: (id, patch) => request("PATCH", `/api/meetings/${encodeURIComponent(id)}`, { body: patch }),
  deleteMeeting: (id) => request("DELETE", `/api/meetings/${encodeURIComponent(id)}`),
  live: (id) => request("GET", `/api/meetings/${encodeURIComponent(id)}/live`),

  // --- statistics (docs/api.md, Statistics; docs/statistics.md)
  report: (id) => request("GET", `/api/meetings/${encodeURIComponent(id)}/report`),
  trends: (query) => request("GET", "/api/trends", { query }),

  // --- invitations
  // one page: query {limit, after} (after: the id of the last invitation of the previous page)
  listInvitations: async (id, query) => items(await request("GET", `/api/meetings/${encodeURIComponent(id)}/invitations`, { query }), "invitations"),
  createInvitation: (id, inv) => request("POST", `/api/meetings/${encodeURIComponent(id)}/invitations`, { body: inv }),
  sendInvitation: (id, invId) => request("POST", `/api/meetings/${encodeURIComponent(id)}/invitations/${encodeURIComponent(invId)}/send`),
  revokeInvitation: (id, invId) => request("DELETE", `/api/meetings/${encodeURIComponent(id)}/invitations/${encodeURIComponent(invId)}`),
  bulkInvitations: (id, csv, role = "delegate") => request("POST", `/api/meetings/${encodeURIComponent(id)}/invitations/bulk`, { body: { csv, role } }),

  // --- registrations
  registrationInfo: (id) => request("GET", `/api/meetings/${encodeURIComponent(id)}/registration`, { token: null }),
  register: (id, reg) => request("POST", `/api/meetings/${encodeURIComponent(id)}/registrations`, { body: reg, token: null }),
  listRegistrations: async (id, query) => items(await request("GET", `/api/meetings/${encodeURIComponent(id)}/registrations`, { query }), "registrations"),
  approveRegistration: (id, rid) => request("POST", `/api/meetings/${encodeURIComponent(id)}/registrations/${encodeURIComponent(rid)}/approve`, { body: {} }),
  rejectRegistration: (id, rid) => request("POST", `/api/meetings/${encodeURIComponent(id)}/registrations/${encodeURIComponent(rid)}/reject`, { body: {} }),

  // --- joining (the invitation token is the credential)
  // the token goes in the body, never in the URL (URLs end up in access logs)
  peekJoin: (token) => request("POST", "/api/join/peek", { body: { token }, token: null }),
  join: (token, fields = {}) => request("POST", "/api/join", { body: { token, ...fields }, token: null }),
};

/** Download a CSV the API serves to the signed-in organizer (the bearer token cannot ride on a
 * plain link): fetched, then saved through a temporary object URL. */
export async function downloadCsv(path, query, filename) {
  const q = new URLSearchParams(Object.entries(query || {}).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const res = await fetch(`${path}?${q}`, { headers: { Accept: "text/csv", Authorization: `Bearer ${organizerSession()?.token || ""}` } });
  if (!res.ok) {
    let err = {};
    try { err = (await res.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(res.status, err.code, err.message || res.statusText, err.details);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
