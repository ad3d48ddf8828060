// Public self-registration for one meeting: register.html#m=<meeting id>.
import "./shell.js";
import { api } from "./api.js";
import { el, $, showError, setBusy, hashParams, fmtRange, langName, emptyState } from "./ui.js";

const meetingId = hashParams().get("m");
let mailOn = false; // the server e-mails approved links (GET …/registration `mail`)

function bad(title, text) {
  $("#loading").hidden = true;
  $("#bad").hidden = false;
  $("#bad").replaceChildren(emptyState("clipboard", title, text));
}

async function start() {
  if (!meetingId) { bad("No meeting", "This registration link is incomplete."); return; }
  let info;
  try { info = await api.registrationInfo(meetingId); }
  catch (e) { bad("Registration unavailable", e.code === "not_found" ? "This meeting does not exist." : e.message); return; }
  const m = info.meeting || info;
  if (info.registration_open === false || info.open === false) { bad("Registration is closed", `Registration for “${m.title}” is not open.`); return; }
  document.title = `Register — ${m.title}`;
  $("#meeting-title").textContent = m.title;
  $("#meeting-when").textContent = m.starts_at ? fmtRange(m.starts_at, m.ends_at) : "";
  $("#meeting-langs").replaceChildren(...(m.languages || []).map((l) => el("span", { class: "chip", lang: l }, langName(l))));
  mailOn = info.mail === true;
  // no promise the server cannot keep: without mail, the organizer hands the link out
  if (!mailOn) $("#r-email-hint").textContent = "The organizer uses it to send you your personal join link once you are approved.";
  $("#loading").hidden = true;
  $("#reg-form").hidden = false;
  $("#r-name").focus();
}

$("#reg-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = { name: f.name.value.trim(), email: f.email.value.trim(), delegation: f.delegation.value.trim() || null };
  if (!body.name || !/^\S+@\S+\.\S+$/.test(body.email)) { showError($("#reg-error"), new Error("Please give your name and a valid e-mail address.")); return; }
  const btn = f.querySelector("button");
  setBusy(btn, true, "Sending…");
  try {
    await api.register(meetingId, body);
    f.hidden = true;
    $("#done").hidden = false;
    $("#done").replaceChildren(emptyState("check", "Request sent",
      mailOn ? `Thank you, ${body.name}. The organizer will review your request; once approved, your personal join link is sent to ${body.email}.`
        : `Thank you, ${body.name}. The organizer will review your request and, once approved, give you your personal join link.`));
  } catch (err) { setBusy(btn, false); showError($("#reg-error"), err); }
});
start();
