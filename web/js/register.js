// Public self-registration for one meeting: register.html#m=<meeting id>.
import "./shell.js";
import { api } from "./api.js";
import { el, $, showError, setBusy, hashParams, fmtRange, langName, emptyState } from "./ui.js";
import { t, errorText } from "./i18n.js";

const meetingId = hashParams().get("m");
let mailOn = false; // the server e-mails approved links (GET …/registration `mail`)

function bad(title, text) {
  $("#loading").hidden = true;
  $("#bad").hidden = false;
  $("#bad").replaceChildren(emptyState("clipboard", title, text));
}

async function start() {
  if (!meetingId) { bad(t("register.no_meeting"), t("register.incomplete")); return; }
  let info;
  try { info = await api.registrationInfo(meetingId); }
  catch (e) { bad(t("register.unavailable"), e.code === "not_found" ? t("register.not_found") : errorText(e)); return; }
  const m = info.meeting || info;
  if (info.registration_open === false || info.open === false) { bad(t("register.closed"), t("register.closed_detail", { title: m.title })); return; }
  document.title = t("register.title_of", { title: m.title });
  $("#meeting-title").textContent = m.title;
  $("#meeting-when").textContent = m.starts_at ? fmtRange(m.starts_at, m.ends_at) : "";
  $("#meeting-langs").replaceChildren(...(m.languages || []).map((l) => el("span", { class: "chip", lang: l }, langName(l))));
  mailOn = info.mail === true;
  // no promise the server cannot keep: without mail, the organizer hands the link out
  if (!mailOn) $("#r-email-hint").textContent = t("register.email_hint_nomail");
  $("#loading").hidden = true;
  $("#reg-form").hidden = false;
  $("#r-name").focus();
}

$("#reg-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = { name: f.name.value.trim(), email: f.email.value.trim(), delegation: f.delegation.value.trim() || null };
  if (!body.name || !/^\S+@\S+\.\S+$/.test(body.email)) { showError($("#reg-error"), new Error(t("register.invalid"))); return; }
  const btn = f.querySelector("button");
  setBusy(btn, true, t("common.sending"));
  try {
    await api.register(meetingId, body);
    f.hidden = true;
    $("#done").hidden = false;
    $("#done").replaceChildren(emptyState("check", t("register.sent"),
      mailOn ? t("register.sent_mail", { name: body.name, email: body.email }) : t("register.sent_nomail", { name: body.name })));
  } catch (err) { setBusy(btn, false); showError($("#reg-error"), err); }
});
start();
