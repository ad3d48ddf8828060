import "./shell.js";
import { api, organizerSession, setOrganizerSession } from "./api.js";
import { $, showError, setBusy } from "./ui.js";
import { t } from "./i18n.js";

const next = () => new URLSearchParams(location.search).get("next") || "/meetings.html";
if (organizerSession()?.token) location.replace(next());

function select(which) {
  for (const k of ["login", "signup"]) {
    const on = k === which;
    $(`#tab-${k}`).setAttribute("aria-selected", String(on));
    $(`#tab-${k}`).tabIndex = on ? 0 : -1;
    $(`#form-${k}`).hidden = !on;
  }
  $("#auth-error").hidden = true;
  $(`#form-${which} input`).focus();
}
$("#tab-login").addEventListener("click", () => select("login"));
$("#tab-signup").addEventListener("click", () => select("signup"));
$(".tabs").addEventListener("keydown", (e) => {
  if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
    select($("#tab-login").getAttribute("aria-selected") === "true" ? "signup" : "login");
    $(`[role=tab][aria-selected=true]`).focus();
  }
});

async function done(res) {
  setOrganizerSession({ token: res.token, organizer: res.organizer });
  location.assign(next());
}

$("#form-login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, btn = f.querySelector("button");
  setBusy(btn, true, t("login.signing_in"));
  try { await done(await api.login(f.email.value.trim(), f.password.value)); }
  catch (err) { showError($("#auth-error"), err); setBusy(btn, false); }
});

$("#form-signup").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, btn = f.querySelector("button");
  if (!f.name.value.trim() || !f.email.value.trim() || f.password.value.length < 8) {
    showError($("#auth-error"), new Error(t("login.incomplete")));
    return;
  }
  setBusy(btn, true, t("common.creating"));
  try {
    const email = f.email.value.trim();
    const res = await api.signup(email, f.name.value.trim(), f.password.value);
    await done(res?.token ? res : await api.login(email, f.password.value));
  } catch (err) { showError($("#auth-error"), err); setBusy(btn, false); }
});
