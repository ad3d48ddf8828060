// Organizer: create/edit one meeting, its invitations, registrations, and its live overview.
import { api, organizerSession } from "./api.js";
import { requireOrganizer, renderAppbar } from "./org.js";
import {
  el, $, toast, showError, setBusy, copyText, hashParams, langName, langNameUi, COMMON_LANGS,
  roleBadge, statusBadge, fmtRange, toLocalInput, fromLocalInput, emptyState,
} from "./ui.js";
import { t, errorText } from "./i18n.js";

requireOrganizer();
renderAppbar("meetings");

let meeting = null;
let languages = [];
let booths = [];
let liveTimer = null;

// ---------------------------------------------------------------- tabs
const TABS = ["details", "invitations", "registrations", "live"];
function selectTab(name, focus = false) {
  for (const k of TABS) {
    const on = k === name;
    const tab = $(`#tab-${k}`);
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#panel-${k}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  clearInterval(liveTimer);
  if (name === "invitations") loadInvitations();
  if (name === "registrations") loadRegistrations();
  if (name === "live") { loadLive(); liveTimer = setInterval(loadLive, 3000); }
  if (meeting) history.replaceState(null, "", `#id=${encodeURIComponent(meeting.id)}${name === "details" ? "" : `&tab=${name}`}`);
}
for (const k of TABS) $(`#tab-${k}`).addEventListener("click", () => selectTab(k));
$("#tabs").addEventListener("keydown", (e) => {
  const cur = TABS.findIndex((k) => $(`#tab-${k}`).getAttribute("aria-selected") === "true");
  const enabled = TABS.filter((k) => !$(`#tab-${k}`).disabled);
  const i = enabled.indexOf(TABS[cur]);
  // the next tab is the one after in reading order: to the left in a right-to-left page
  const rtl = document.documentElement.dir === "rtl";
  if (e.key === (rtl ? "ArrowLeft" : "ArrowRight")) selectTab(enabled[(i + 1) % enabled.length], true);
  if (e.key === (rtl ? "ArrowRight" : "ArrowLeft")) selectTab(enabled[(i - 1 + enabled.length) % enabled.length], true);
});

// ---------------------------------------------------------------- languages & booths
function fillLangSelect() {
  const sel = $("#lang-add");
  const opts = COMMON_LANGS.filter((c) => !languages.includes(c));
  sel.replaceChildren(...opts.map((c) => el("option", { value: c }, `${langName(c)} — ${langNameUi(c)} (${c})`)), el("option", { value: "__other" }, t("meeting.other_code")));
}
function renderLangs() {
  $("#lang-chips").replaceChildren(...(languages.length ? languages.map((c) => el("span", { class: "chip", lang: c },
    langName(c), el("span", { class: "muted small" }, c),
    el("button", { type: "button", "aria-label": t("meeting.remove_lang", { language: langName(c) }), onclick: () => removeLang(c) }, "×"))) :
    [el("span", { class: "muted" }, t("meeting.no_lang"))]));
  fillLangSelect();
  renderBooths();
}
function addLang(code) {
  code = (code || "").trim().toLowerCase();
  if (!/^[a-z]{2}$/.test(code)) { toast(t("meeting.lang_code"), "error"); return; }
  if (languages.includes(code)) return;
  languages.push(code);
  // every booth understands every other language by default, whatever order the languages came
  // in: the booths already there understand the new one too (the organizer unticks what not)
  for (const b of booths) if (b.language !== code && !b.understands.includes(code)) b.understands.push(code);
  // a booth into the new language by default, understanding every other language
  if (languages.length > 1 && !booths.some((b) => b.language === code)) {
    booths.push({ language: code, retour: null, understands: languages.filter((l) => l !== code), auto_floor: true });
  }
  if (languages.length === 2 && !booths.some((b) => b.language === languages[0])) {
    booths.unshift({ language: languages[0], retour: null, understands: [languages[1]], auto_floor: true });
  }
  renderLangs();
}
function removeLang(code) {
  languages = languages.filter((l) => l !== code);
  booths = booths.filter((b) => b.language !== code).map((b) => ({
    ...b, retour: b.retour === code ? null : b.retour, understands: b.understands.filter((u) => u !== code),
  }));
  renderLangs();
}
$("#lang-add-btn").addEventListener("click", () => {
  let v = $("#lang-add").value;
  if (v === "__other") v = prompt(t("meeting.lang_prompt")) || "";
  addLang(v);
});

function renderBooths() {
  const box = $("#booths");
  if (!booths.length) {
    box.replaceChildren(el("p", { class: "muted" }, languages.length < 2 ? t("meeting.booths_need_two") : t("meeting.no_booth")));
    return;
  }
  box.replaceChildren(...booths.map((b, i) => {
    const id = (s) => `booth-${i}-${s}`;
    const langSel = el("select", { id: id("lang"), onchange: (e) => { b.language = e.target.value; renderBooths(); } },
      ...languages.map((l) => el("option", { value: l, selected: l === b.language }, langName(l))));
    const retourSel = el("select", { id: id("retour"), onchange: (e) => { b.retour = e.target.value || null; } },
      el("option", { value: "" }, t("meeting.none")),
      ...languages.filter((l) => l !== b.language).map((l) => el("option", { value: l, selected: l === b.retour }, langName(l))));
    return el("div", { class: "booth-row", role: "group", "aria-label": t("console.booth_of", { language: langName(b.language) }) },
      el("div", { class: "field" }, el("label", { for: id("lang") }, t("console.booth")), langSel),
      el("div", { class: "field" }, el("label", { for: id("retour") }, t("meeting.retour")), retourSel),
      el("div", { class: "field understands" }, el("span", { class: "label", id: id("u") }, t("meeting.understands")),
        el("div", { class: "chips", role: "group", "aria-labelledby": id("u") }, ...languages.filter((l) => l !== b.language).map((l) =>
          el("label", { class: "check" }, el("input", { type: "checkbox", checked: b.understands.includes(l), onchange: (e) => {
            b.understands = e.target.checked ? [...new Set([...b.understands, l])] : b.understands.filter((u) => u !== l);
          } }), langName(l))))),
      el("label", { class: "check" }, el("input", { type: "checkbox", checked: b.auto_floor, onchange: (e) => { b.auto_floor = e.target.checked; } }), t("meeting.floor_idle")),
      el("button", { class: "btn ghost small", type: "button", "aria-label": t("meeting.remove_booth", { language: langName(b.language) }), onclick: () => { booths.splice(i, 1); renderBooths(); } }, t("common.remove")));
  }));
}
$("#booth-add").addEventListener("click", () => {
  const free = languages.find((l) => !booths.some((b) => b.language === l));
  if (!free) { toast(t("meeting.every_lang_booth"), "error"); return; }
  booths.push({ language: free, retour: null, understands: languages.filter((l) => l !== free), auto_floor: true });
  renderBooths();
});

// ---------------------------------------------------------------- details form
function formToMeeting() {
  const f = $("#meeting-form");
  const under = f.under_levels_db.value.split(/[,\s]+/).filter(Boolean).map(Number).filter((n) => Number.isFinite(n)).map((n) => -Math.abs(Math.round(n)));
  return {
    title: f.title.value.trim(),
    starts_at: fromLocalInput(f.starts_at.value),
    ends_at: fromLocalInput(f.ends_at.value),
    languages: [...languages],
    booths: booths.map((b) => ({ language: b.language, retour: b.retour || null, understands: [...b.understands], auto_floor: !!b.auto_floor })),
    options: { under_levels_db: under.length ? under : [-12, -18, -24], capacity: Number(f.capacity.value) || 500 },
    registration_open: f.registration_open.checked,
  };
}
function fillForm(m) {
  const f = $("#meeting-form");
  f.title.value = m.title || "";
  f.starts_at.value = toLocalInput(m.starts_at);
  f.ends_at.value = toLocalInput(m.ends_at);
  f.capacity.value = m.options?.capacity ?? 500;
  f.under_levels_db.value = (m.options?.under_levels_db || [-12, -18, -24]).join(", ");
  f.registration_open.checked = !!m.registration_open;
  languages = [...(m.languages || [])];
  booths = (m.booths || []).map((b) => ({ language: b.language, retour: b.retour || null, understands: [...(b.understands || [])], auto_floor: b.auto_floor !== false }));
  renderLangs();
}
function renderHead() {
  $("#title").textContent = meeting ? meeting.title : t("meeting.new");
  document.title = `${meeting ? meeting.title : t("meeting.new")} — MIRP`;
  const sub = $("#sub");
  sub.replaceChildren();
  const actions = $("#head-actions");
  actions.replaceChildren();
  for (const k of ["invitations", "registrations", "live"]) $(`#tab-${k}`).disabled = !meeting;
  $("#delete-meeting").hidden = !meeting;
  $("#save").textContent = meeting ? t("meeting.save") : t("meeting.create");
  if (!meeting) return;
  sub.append(statusBadge(meeting.status), el("span", {}, fmtRange(meeting.starts_at, meeting.ends_at)));
  actions.append(el("a", { class: "btn", href: `/report.html#id=${encodeURIComponent(meeting.id)}` }, t("report.heading")));
  if (meeting.status === "open") actions.append(el("button", { class: "btn", type: "button", onclick: () => setStatus("closed") }, t("chair.close")));
  else actions.append(el("button", { class: "btn success", type: "button", onclick: () => setStatus("open") }, meeting.status === "closed" ? t("meeting.reopen") : t("meeting.open")));
}
async function setStatus(status) {
  try { meeting = await api.updateMeeting(meeting.id, { status }); renderHead(); toast(status === "open" ? t("meeting.opened") : t("meeting.closed"), "ok"); }
  catch (e) { showError(null, e); }
}

$("#meeting-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = formToMeeting();
  $("#error").hidden = true;
  if (!body.title) { $("#m-title").setAttribute("aria-invalid", "true"); showError($("#error"), new Error(t("meeting.need_title"))); $("#m-title").focus(); return; }
  $("#m-title").removeAttribute("aria-invalid");
  if (!body.languages.length) { showError($("#error"), new Error(t("meeting.need_lang"))); return; }
  const btn = $("#save");
  setBusy(btn, true, t("meeting.saving"));
  try {
    const created = !meeting;
    meeting = created ? await api.createMeeting(body) : await api.updateMeeting(meeting.id, body);
    fillForm(meeting);
    setBusy(btn, false);
    renderHead();
    toast(created ? t("meeting.created") : t("meeting.saved"), "ok");
    if (created) selectTab("invitations");
  } catch (err) { setBusy(btn, false); showError($("#error"), err); }
});
$("#delete-meeting").addEventListener("click", async () => {
  if (!confirm(t("meeting.delete_confirm", { title: meeting.title }))) return;
  try { await api.deleteMeeting(meeting.id); location.assign("/meetings.html"); } catch (e) { showError($("#error"), e); }
});

// ---------------------------------------------------------------- invitations
function joinUrl(inv) {
  return inv.join_url || (inv.token ? `${location.origin}/join.html#t=${encodeURIComponent(inv.token)}` : "");
}
function fillBoothSelect() {
  $("#inv-booth").replaceChildren(...(meeting?.booths || []).map((b) => el("option", { value: b.language }, `${langName(b.language)} (${b.language})`)));
}
$("#inv-role").addEventListener("change", (e) => { $("#inv-booth-field").hidden = e.target.value !== "interpreter"; fillBoothSelect(); });

const INV_PAGE = 100;  // the server pages the list (docs/api.md); "Show more" fetches the next

function invitationRow(inv) {
  const revoked = inv.revoked || inv.revoked_at || inv.status === "revoked";
  const who = inv.name || t("meeting.inv.open_link");
  return el("tr", { "data-invitation": inv.id },
    el("td", {}, el("div", { style: "font-weight:600" }, who), el("div", { class: "small muted" }, [inv.delegation, inv.email].filter(Boolean).join(" · ") || (inv.name ? "" : t("meeting.inv.asks_name")))),
    el("td", {}, roleBadge(inv.role), inv.booth ? el("span", { class: "small muted" }, ` ${langName(inv.booth)}`) : null),
    el("td", { class: "hide-s" }, `${inv.uses ?? inv.use_count ?? 0} / ${inv.max_uses ?? "∞"}`),
    el("td", { class: "actions" }, revoked ? el("span", { class: "badge red" }, t("meeting.inv.revoked")) : [
      ...(mailControls(inv) || []),
      joinUrl(inv) ? el("button", { class: "btn small", type: "button", "data-copy": joinUrl(inv), "aria-label": t("meeting.inv.copy_for", { name: who }), onclick: () => copyText(joinUrl(inv)) }, t("common.copy_link")) : null,
      " ",
      el("button", { class: "btn small ghost", type: "button", "aria-label": t("meeting.inv.revoke_for", { name: who }), onclick: async () => {
        if (!confirm(t("meeting.inv.revoke_confirm", { name: who }))) return;
        try { await api.revokeInvitation(meeting.id, inv.id); toast(t("meeting.inv.revoked_toast"), "ok"); loadInvitations(); } catch (e) { showError(null, e); }
      } }, t("meeting.inv.revoke"))]));
}

// the invitation's e-mail: its last status and Send / Re-send (docs/api.md, "E-mail")
const MAIL_STATUS = { queued: [t("mail.queued"), "blue"], retrying: [t("mail.retrying"), "amber"], sent: [t("mail.sent"), "green"], failed: [t("mail.failed"), "red"] };
let mailOff = false;  // the server said it sends no e-mail: offer no Send button
function mailControls(inv) {
  if (!inv.email || mailOff) return null;
  const [label, tone] = MAIL_STATUS[inv.mail_status] || [null, null];
  const badge = label ? el("span", { class: `badge ${tone}`, "data-mail-status": inv.mail_status, title: inv.mail_error || "" }, label) : null;
  const why = inv.mail_error ? el("span", { class: "small muted" }, ` ${inv.mail_error}`) : null;
  const send = el("button", { class: "btn small", type: "button", "data-send": inv.id, "aria-label": inv.mail_status ? t("mail.resend_to", { email: inv.email }) : t("mail.send_to", { email: inv.email }), onclick: async () => {
    try { await api.sendInvitation(meeting.id, inv.id); toast(t("mail.queued_for", { email: inv.email }), "ok"); loadInvitations(); }
    catch (e) {
      if (e.details?.reason === "mail_off") { mailOff = true; toast(t("mail.off")); loadInvitations(); }
      else showError(null, e);
    }
  } }, inv.mail_status ? t("mail.resend") : t("mail.send"));
  return [badge, why, " ", send, " "];
}

// every link of the meeting as one CSV file (streamed by the server)
async function exportInvitations() {
  try {
    const res = await fetch(`/api/meetings/${encodeURIComponent(meeting.id)}/invitations.csv`, { headers: { Authorization: `Bearer ${organizerSession()?.token}` } });
    if (!res.ok) { const data = await res.json().catch(() => ({})); throw new Error(errorText(data?.error || {}) || res.statusText); }
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: `invitations-${meeting.id}.csv` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) { showError(null, e); }
}

/** A booth nobody is invited to interpret in stays silent (or carries the floor): said before
 * the meeting, not found out during it. `invs`: the whole list (not one page of a longer one). */
function emptyBooths(invs) {
  const staffed = new Set(invs.filter((i) => i.role === "interpreter" && !i.revoked).map((i) => i.booth));
  const empty = (meeting?.booths || []).map((b) => b.language).filter((l) => !staffed.has(l));
  return empty.length ? [el("div", { class: "alert warn", id: "empty-booths", role: "status" },
    t("meeting.empty_booths", { count: empty.length, languages: empty.map(langNameUi).join(", ") }))] : [];
}

async function loadInvitations() {
  if (!meeting) return;
  const box = $("#inv-list");
  try {
    const invs = await api.listInvitations(meeting.id, { limit: INV_PAGE });
    if (!invs.length) { box.replaceChildren(el("div", { class: "empty" }, el("p", {}, t("meeting.inv.none")), el("p", { class: "small" }, t("meeting.inv.none_detail"))), ...emptyBooths(invs)); return; }
    const tbody = el("tbody", {}, ...invs.map(invitationRow));
    let last = invs[invs.length - 1].id;
    const more = el("button", { class: "btn small", type: "button", hidden: invs.length < INV_PAGE, onclick: async () => {
      setBusy(more, true, t("common.loading"));
      try {
        const page = await api.listInvitations(meeting.id, { limit: INV_PAGE, after: last });
        tbody.append(...page.map(invitationRow));
        if (page.length) last = page[page.length - 1].id;
        more.hidden = page.length < INV_PAGE;
      } catch (e) { showError(null, e); }
      setBusy(more, false);
    } }, t("common.show_more"));
    box.replaceChildren(
      ...(invs.length < INV_PAGE ? emptyBooths(invs) : []),
      el("div", { class: "row" }, el("button", { class: "btn small ghost", type: "button", id: "inv-export", onclick: exportInvitations }, t("meeting.inv.export"))),
      el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, t("meeting.inv.who")), el("th", {}, t("common.role")), el("th", { class: "hide-s" }, t("meeting.inv.uses")), el("th", {}, el("span", { class: "visually-hidden" }, t("common.actions"))))),
        tbody)),
      more);
  } catch (e) { box.replaceChildren(); showError(box, e); }
}

$("#inv-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = { role: f.role.value, name: f.name.value.trim() || null, delegation: f.delegation.value.trim() || null,
    email: f.email.value.trim() || null, country: f.country.value.trim().toUpperCase() || null, max_uses: Number(f.max_uses.value) || 1, expires_at: fromLocalInput(f.expires_at.value) };
  if (body.role === "interpreter") body.booth = f.booth.value || null;
  $("#inv-error").hidden = true;
  const btn = f.querySelector("button[type=submit]");
  setBusy(btn, true, t("common.creating"));
  try {
    const inv = await api.createInvitation(meeting.id, body);
    const url = joinUrl(inv);
    $("#inv-created").hidden = false;
    $("#inv-created").replaceChildren(el("div", { class: "alert ok", role: "status" },
      el("div", { style: "font-weight:600;margin-bottom:6px" }, inv.name ? t("meeting.inv.created_for", { name: inv.name }) : t("meeting.inv.created_open")),
      el("div", { class: "row" }, el("input", { type: "text", readonly: true, value: url, class: "grow mono", "aria-label": t("meeting.inv.join_link"), id: "inv-created-link" }),
        el("button", { class: "btn small", type: "button", onclick: () => copyText(url) }, t("common.copy")))));
    f.name.value = ""; f.email.value = ""; f.delegation.value = ""; f.country.value = "";
    loadInvitations();
  } catch (err) { showError($("#inv-error"), err); }
  setBusy(btn, false);
});

// bulk CSV
$("#bulk-open").addEventListener("click", () => { $("#bulk-error").hidden = true; $("#bulk-dialog").showModal(); });
$("#bulk-file").addEventListener("change", async (e) => { const file = e.target.files[0]; if (file) $("#bulk-csv").value = await file.text(); });
$("#bulk-form").addEventListener("submit", async (e) => {
  if (e.submitter?.value !== "default") return;
  e.preventDefault();
  const csv = $("#bulk-csv").value.trim();
  if (!csv) { showError($("#bulk-error"), new Error(t("meeting.bulk.empty"))); return; }
  try {
    const res = await api.bulkInvitations(meeting.id, csv, $("#bulk-role").value);
    const n = Array.isArray(res) ? res.length : (res?.created?.length ?? res?.invitations?.length ?? res?.count ?? "");
    $("#bulk-dialog").close();
    $("#bulk-csv").value = "";
    toast(t("meeting.bulk.created", { count: Number(n) || 0 }), "ok");
    loadInvitations();
  } catch (err) { showError($("#bulk-error"), err); }
});

// ---------------------------------------------------------------- registrations
const REG_PAGE = 100;  // the server pages the list (docs/api.md); "Show more" fetches the next
async function loadRegistrations() {
  if (!meeting) return;
  $("#reg-link").value = `${location.origin}/register.html#m=${encodeURIComponent(meeting.id)}`;
  $("#reg-state").replaceChildren(meeting.registration_open ? el("span", { class: "badge green" }, t("status.open")) : el("span", { class: "badge" }, t("meeting.reg.closed_badge")));
  const box = $("#reg-list");
  try {
    const regs = await api.listRegistrations(meeting.id, { limit: REG_PAGE });
    if (!regs.length) { box.replaceChildren(el("p", { class: "muted" }, meeting.registration_open ? t("meeting.reg.none") : t("meeting.reg.closed_detail"))); return; }
    const tbody = el("tbody", {}, ...regs.map(registrationRow));
    let last = regs[regs.length - 1].id;
    const more = el("button", { class: "btn small", type: "button", hidden: regs.length < REG_PAGE, onclick: async () => {
      setBusy(more, true, t("common.loading"));
      try {
        const page = await api.listRegistrations(meeting.id, { limit: REG_PAGE, after: last });
        tbody.append(...page.map(registrationRow));
        if (page.length) last = page[page.length - 1].id;
        more.hidden = page.length < REG_PAGE;
      } catch (e) { showError(null, e); }
      setBusy(more, false);
    } }, t("common.show_more"));
    box.replaceChildren(el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, t("common.name")), el("th", { class: "hide-s" }, t("common.delegation")), el("th", {}, t("meeting.reg.status")), el("th", {}, el("span", { class: "visually-hidden" }, t("common.actions"))))),
      tbody)), more);
  } catch (e) { box.replaceChildren(); showError(box, e); }
}
function registrationRow(r) {
  return el("tr", {},
    el("td", {}, el("div", { style: "font-weight:600" }, r.name), el("div", { class: "small muted" }, r.email || "")),
    el("td", { class: "hide-s" }, r.delegation || "—"),
    el("td", {}, el("span", { class: `badge ${{ approved: "green", rejected: "red", pending: "amber" }[r.status] || ""}` }, t(`meeting.reg.${r.status || "pending"}`))),
    el("td", { class: "actions" }, (r.status || "pending") === "pending" ? [
      el("button", { class: "btn small success", type: "button", onclick: () => decide(r, "approve") }, t("meeting.reg.approve")), " ",
      el("button", { class: "btn small ghost", type: "button", onclick: () => decide(r, "reject") }, t("meeting.reg.reject"))] :
      (r.join_url || r.invitation?.join_url ? el("button", { class: "btn small", type: "button", onclick: () => copyText(r.join_url || r.invitation.join_url) }, t("common.copy_link")) : null)));
}
async function decide(r, what) {
  try {
    if (what === "approve") await api.approveRegistration(meeting.id, r.id);
    else await api.rejectRegistration(meeting.id, r.id);
    toast(what === "approve" ? t("meeting.reg.approved_toast", { name: r.name }) : t("meeting.reg.rejected_toast", { name: r.name }), "ok");
    loadRegistrations();
  } catch (e) { showError(null, e); }
}
$("#reg-copy").addEventListener("click", () => copyText($("#reg-link").value));

// ---------------------------------------------------------------- live overview
function stat(label, value) { return el("div", { class: "card tight" }, el("div", { class: "small muted" }, label), el("div", { style: "font-size:1.6rem;font-weight:750" }, String(value))); }
async function loadLive() {
  if (!meeting) return;
  const box = $("#live");
  let data;
  try { data = await api.live(meeting.id); }
  catch (e) {
    if (e.status === 404 || e.code === "not_found") data = null;
    else { showError(box, e); return; }
  }
  if (!data || data.open === false) {
    box.replaceChildren(el("div", { class: "card" }, emptyState("pause", t("meeting.live.not_live"), t("meeting.live.not_live_detail"))));
    return;
  }
  const people = data.people || data.participants || [];
  const connected = people.filter((p) => p.connected !== false);
  const byId = new Map(people.map((p) => [p.participant_id || p.id, p]));
  const channels = data.channels || {};
  const chanList = ["floor", ...(meeting.languages || [])].filter((c) => channels[c]).map((c) => ({ channel: c, ...channels[c] }));
  const liveBooths = data.booths || [];
  const floor = data.floor || {};
  const holders = (floor.holders || []).map((h) => byId.get(h)?.name || h);
  const waiting = typeof floor.speakers === "number" ? floor.speakers : (floor.speakers || []).length;
  const ROUTE = { floor: t("route.original"), interpretation: t("route.interpreted"), floor_language: t("meeting.live.route_floor_language"), auto_floor: t("meeting.live.route_auto_floor"), silence: t("meeting.live.route_silence") };
  box.replaceChildren(
    el("div", { class: "grid-3", style: "margin-bottom:16px" },
      stat(t("conn.connected"), data.connected ?? connected.length),
      stat(t("meeting.live.speaking"), holders.join(", ") || "—"),
      stat(t("meeting.live.waiting"), waiting)),
    el("div", { class: "grid-2" },
      el("div", { class: "card" }, el("div", { class: "card-head" }, el("h2", {}, t("live.participants")), el("span", { class: "badge" }, String(connected.length))),
        people.length ? el("ul", { class: "list" }, ...people.map((p) => el("li", { class: p.connected === false ? "away" : null },
          el("div", { class: "who" }, el("div", { class: "n" }, p.name || p.participant_id),
            el("div", { class: "d" }, [p.delegation, p.booth && t("console.booth_of", { language: langName(p.booth) }), p.channel && (p.channel === "floor" ? t("meeting.live.hears_floor") : t("meeting.live.hears", { language: langName(p.channel) })),
              p.connected === false ? t("conn.reconnecting") : null].filter(Boolean).join(" · "))),
          p.quality && p.quality !== "good" && p.quality !== "unknown" ? el("span", { class: `badge ${p.quality === "poor" ? "red" : "amber"}` }, p.quality === "poor" ? t("quality.poor_line") : t("quality.fair_line")) : null,
          roleBadge(p.role)))) : el("p", { class: "muted" }, t("meeting.live.nobody"))),
      el("div", { class: "card" }, el("h2", {}, t("meeting.live.channels")),
        el("ul", { class: "list" }, ...chanList.map((c) => el("li", {},
          el("div", { class: "who" }, el("div", { class: "n", lang: c.channel === "floor" ? undefined : c.channel }, langName(c.channel)),
            el("div", { class: "d" }, ROUTE[c.route] || c.route || "", c.route === "interpretation" && c.interpreter ? ` · ${byId.get(c.interpreter)?.name || ""}` : "")),
          el("span", { class: "badge" }, t("meeting.live.listening", { count: c.listeners ?? 0 }))))),
        el("h3", { style: "margin-top:16px" }, t("meeting.live.booths")),
        liveBooths.length ? el("ul", { class: "list" }, ...liveBooths.map((b) => el("li", {},
          el("div", { class: "who" }, el("div", { class: "n", lang: b.language }, langName(b.language)),
            el("div", { class: "d" }, t("meeting.live.interpreters", { count: b.interpreters ?? 0 }), b.on_air ? ` · ${t("meeting.live.on_air_into", { name: b.on_air_name || t("console.partner.on_air"), language: langName(b.channel) })}` : "")),
          b.on_air ? el("span", { class: `badge ${b.cough ? "amber" : "live"}` }, b.cough ? t("meeting.live.cough") : t("console.partner.on_air")) : el("span", { class: "badge" }, t("console.off_air")))))
          : el("p", { class: "muted" }, t("meeting.live.no_booth")))));
}

// ---------------------------------------------------------------- start
async function start() {
  const p = hashParams();
  const id = p.get("id");
  if (!id) { fillForm({ languages: [], booths: [] }); renderHead(); $("#m-title").focus(); return; }
  try {
    meeting = await api.getMeeting(id);
    fillForm(meeting);
    renderHead();
    selectTab(TABS.includes(p.get("tab")) ? p.get("tab") : "details");
  } catch (e) { showError($("#error"), e); renderHead(); }
}
window.addEventListener("hashchange", () => location.reload());
start();
