// The meeting page's "Webcast and recording" card (meeting.html): the meeting's webcast,
// recording and retention options, the viewers' link (a token for a `token` webcast), and the
// recordings: each channel and the index to download, delete (docs/webcast.md, docs/api.md).
import { ApiError, organizerSession } from "./api.js";
import { $, el, hashParams, langName, showError, toast } from "./ui.js";
import { t } from "./i18n.js";

const id = hashParams().get("id");
const card = $("#webcast-card");

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${organizerSession()?.token || ""}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    let err = {};
    try { err = (await res.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(res.status, err.code, err.message || res.statusText, err.details);
  }
  return res.status === 204 ? null : res;
}

async function download(path, filename) {
  const res = await call("GET", path);
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showOptions(m) {
  const o = m.options || {};
  $("#wc-mode").value = o.webcast || "off";
  $("#wc-recording").checked = !!o.recording;
  $("#wc-retention").value = o.retention_days || "";
  const link = $("#wc-link");
  link.replaceChildren();
  if (o.webcast === "public") {
    const href = `/webcast.html#m=${encodeURIComponent(m.id)}`;
    link.append(el("a", { href, target: "_blank", rel: "noopener" }, t("wcadmin.open_page")));
  } else if (o.webcast === "token") {
    link.append(el("button", { class: "btn small", type: "button", onclick: makeToken }, t("wcadmin.viewer_link_day")));
  }
}

async function makeToken() {
  try {
    const res = await call("POST", `/api/meetings/${encodeURIComponent(id)}/webcast/token`);
    const given = await res.json();
    const link = $("#wc-link");
    link.replaceChildren(el("a", { href: given.url, target: "_blank", rel: "noopener" }, t("wcadmin.viewer_link")));
    if (navigator.clipboard) await navigator.clipboard.writeText(given.url).then(() => toast(t("wcadmin.copied"), "ok"), () => {});
  } catch (e) { showError(null, e); }
}

async function save() {
  const days = Number($("#wc-retention").value) || 0;
  const options = { webcast: $("#wc-mode").value, recording: $("#wc-recording").checked, retention_days: days };
  try {
    const res = await call("PATCH", `/api/meetings/${encodeURIComponent(id)}`, { options });
    showOptions(await res.json());
    toast(t("wcadmin.saved"), "ok");
  } catch (e) { showError(null, e); }
}

function partRow(p) {
  const base = `/api/meetings/${encodeURIComponent(id)}/recordings/${encodeURIComponent(p.part)}`;
  const when = new Date(p.started_at).toLocaleString();
  const state = p.running ? t("wcadmin.recording_now") : p.stopped ? t("wcadmin.stopped", { reason: p.stopped }) : "";
  return el("div", { class: "card tight mt-8" },
    el("div", { class: "row between" }, el("strong", {}, when), state ? el("span", { class: "badge live" }, state) : null),
    el("div", { class: "row mt-8" },
      ...p.channels.map((c) => el("button", {
        class: "btn small", type: "button", lang: c.channel === "floor" ? undefined : c.channel,
        onclick: () => download(`${base}/${c.channel}.opus`, `${id}-${p.part}-${c.channel}.opus`).catch((e) => showError(null, e)),
      }, c.channel === "floor" ? t("channel.floor") : langName(c.channel))),
      el("button", { class: "btn small ghost", type: "button", onclick: () => download(`${base}/index.json`, `${id}-${p.part}-index.json`).catch((e) => showError(null, e)) }, t("wcadmin.index")),
      el("button", { class: "btn small ghost", type: "button", onclick: () => download(`${base}/index.vtt`, `${id}-${p.part}-chapters.vtt`).catch((e) => showError(null, e)) }, t("wcadmin.chapters")),
      p.running ? null : el("button", { class: "btn small ghost danger-text", type: "button", onclick: () => remove(p) }, t("wcadmin.delete"))));
}

async function remove(p) {
  if (!window.confirm(t("wcadmin.delete_confirm"))) return;
  try {
    await call("DELETE", `/api/meetings/${encodeURIComponent(id)}/recordings/${encodeURIComponent(p.part)}`);
    await loadRecordings();
  } catch (e) { showError(null, e); }
}

async function loadRecordings() {
  const res = await call("GET", `/api/meetings/${encodeURIComponent(id)}/recordings`);
  const listed = await res.json();
  const box = $("#wc-recordings");
  // replaceChildren writes a null as the text "null": only the nodes there are
  box.replaceChildren(...[
    listed.alert ? el("p", { class: "error", role: "alert" }, t("wcadmin.alert", { reason: listed.alert })) : null,
    ...(listed.parts.length ? listed.parts.map(partRow) : [el("p", { class: "muted" }, t("wcadmin.none"))])].filter(Boolean));
}

async function start() {
  if (!id || !card) return;
  try {
    const res = await call("GET", `/api/meetings/${encodeURIComponent(id)}`);
    showOptions(await res.json());
    card.hidden = false;
    $("#wc-save").addEventListener("click", save);
    await loadRecordings();
  } catch (e) { showError(null, e); }
}
start();
