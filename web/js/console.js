// Interpreter console: hear the floor (or a relay), speak into the booth's language (or its
// retour), on air / cough, handover with the booth partner, booth chat, "slow down".
import { startLive } from "./live.js";
import { el, $, langName, icon, toast, patch } from "./ui.js";
import { meterFollowing } from "./meter.js";

const live = startLive({ render, onEvent });
// the meters follow the Peer's streams (a reconnect brings a new remote one)
const meters = live ? [meterFollowing(() => live.rtc.mic, $("#out-fill")), meterFollowing(() => live.rtc.remote, $("#hear-fill"))] : [];
let coughing = false;

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(msg.message || msg.code, "error");
  if (msg.type === "notice" && msg.kind?.startsWith("handover")) state.chat.push({ system: true, text: effect.notice, at: Date.now() });
  if (effect?.chat) requestAnimationFrame(() => { const c = $("#chat"); c.scrollTop = c.scrollHeight; });
  if (effect?.notice) toast(effect.notice);
}

function myBooth(state) { return state.booths[state.me.booth] || { on_air: null, consoles: {}, members: [] }; }
const nameOf = (state, id) => state.participants.get(id)?.name || "your partner";

function setCough(on) {
  if (!live || coughing === on) return;
  if (on && myBooth(live.state).on_air !== live.state.me.id) return; // only the voice on air coughs
  coughing = on;
  live.proto.cough(on);
  applyMic(live.state);
  render(live.state);
}
function applyMic(state) {
  const b = myBooth(state);
  live.rtc.setMicEnabled(b.on_air === state.me.id && !coughing);
}

function render(state) {
  if (!live) return;
  const { proto } = live;
  const me = state.me, b = myBooth(state);
  const booth = state.meeting.booths.find((x) => x.language === me.booth) || { language: me.booth, understands: [] };
  const onAir = b.on_air === me.id;
  const partnerOnAir = b.on_air && b.on_air !== me.id;
  if (!onAir && coughing) { coughing = false; }
  applyMic(state);
  for (const follow of meters) follow();

  document.title = `Booth ${langName(me.booth)} — MIRP`;
  $("#booth-title").replaceChildren("Booth ", el("span", { lang: me.booth }, langName(me.booth)), el("span", { class: "muted", style: "font-weight:500" }, ` · ${me.booth?.toUpperCase() || ""}`));
  const fl = state.floor.language;
  patch($("#floor-lang"), `${fl}|${state.floor.language_auto}`, () => [fl ? el("span", { lang: fl }, langName(fl)) : "—", fl && state.floor.language_auto ? el("span", { class: "muted", style: "font-weight:500" }, " (auto)") : ""]);
  $("#floor-speaker").textContent = state.floor.holders.map((h) => state.participants.get(h)?.name || "Participant").join(", ") || "Nobody";

  // what I hear: the floor, or a relay (chosen by me, or by the server's auto-relay)
  const hearing = state.heard?.channel || state.subscription.channel || "floor";
  const auto = !!state.heard?.auto;
  patch($("#hear-now"), hearing, () => (hearing === "floor" ? "Floor" : el("span", {}, "Relay · ", el("span", { lang: hearing }, langName(hearing)))));
  const understands = b.understands_floor ?? (!fl || fl === me.booth || (booth.understands || []).includes(fl));
  $("#hear-why").textContent = auto
    ? (hearing === "floor" ? "Auto: the floor, since your booth takes the floor language directly."
      : `Auto relay: your booth does not take ${langName(fl)} directly, so you hear the ${langName(hearing)} booth.`)
    : hearing === "floor" ? (understands ? "The original speaker (chosen by you)." : `Your booth does not take ${langName(fl)} directly: choose a relay, or Auto.`)
      : "Relay chosen by you. Choose Auto to let the server pick.";
  $("#hear-auto").hidden = !(auto && hearing !== "floor");
  // sources: auto-relay, the floor, or another booth's channel (a green dot: interpreted now)
  const sources = ["auto", "floor", ...state.meeting.booths.map((x) => x.language).filter((l) => l !== me.booth)];
  const chosen = auto ? "auto" : hearing;
  patch($("#sources"), JSON.stringify([chosen, sources.map((x) => state.channels[x]?.route)]), () => sources.map((s) => {
    const relay = s !== "floor" && s !== "auto";
    const live_ = relay && state.channels[s]?.route === "interpretation";
    return el("button", { type: "button", role: "radio", "aria-checked": String(chosen === s), "data-source": s,
      onclick: () => {
        // the server keeps auto-relay when the hand-picked source is the one auto already gives
        if (auto && s === hearing) { toast("Auto already gives you this source; it follows the floor language."); return; }
        live.state.wanted = { channel: s, floor_under: null };
        proto.subscribe(s, null);
      } },
    s === "floor" ? "Floor" : s === "auto" ? "Auto" : el("span", { lang: s }, langName(s)),
    relay ? el("span", { class: `dot ${live_ ? "ok" : ""}`, title: live_ ? "Interpreted now" : "Nobody on air" }) : null,
    relay ? el("span", { class: "visually-hidden" }, live_ ? " (interpreted now)" : " (nobody on air)") : null);
  }));

  // on air
  const light = $("#onair-light");
  light.className = `onair-light${onAir ? (coughing || b.cough ? " cough" : " on") : ""}`;
  light.textContent = onAir ? (coughing || b.cough ? "Muted · cough" : `On air · ${langName(b.channel || me.booth)}`)
    : partnerOnAir ? `${nameOf(state, b.on_air)} is on air${b.cough ? " (cough)" : ""}` : "Off air";
  const btn = $("#onair");
  btn.setAttribute("aria-pressed", String(onAir));
  btn.disabled = !!partnerOnAir;
  $("#onair-sub").textContent = onAir ? "Press to go off air" : partnerOnAir ? "Your partner is on air" : "Press to go live";
  btn.onclick = () => proto.setOnAir(!onAir);
  $("#cough").setAttribute("aria-pressed", String(coughing));
  $("#cough").disabled = !onAir;

  const outs = b.outputs?.length ? b.outputs : [me.booth, booth.retour].filter(Boolean);
  const into = b.channel || me.booth;
  // while a partner is on air, only they switch the booth's output
  patch($("#outputs"), JSON.stringify([outs, into, !!partnerOnAir]), () => outs.map((o, i) => el("button", { type: "button", role: "radio", "aria-checked": String(into === o), "data-output": o, disabled: !!partnerOnAir,
    onclick: () => proto.setOutput(o) }, el("span", { class: "code" }, i === 0 ? "A" : "B · retour"), " ", el("span", { lang: o }, langName(o)))));

  // booth partners and handover
  const memberIds = b.members?.length ? b.members
    : [...state.participants.values()].filter((p) => p.role === "interpreter" && p.booth === me.booth).map((p) => p.id);
  const partners = memberIds.map((id) => ({ id, ...(state.participants.get(id) || { name: "Interpreter" }), console: b.consoles?.[id] }));
  const present = (p) => p.console ? p.console.connected !== false : p.connected !== false;
  const partnersKey = JSON.stringify([partners.map((p) => [p.id, p.name, p.console, p.connected, p.channel]), b.on_air, b.cough, me.id]);
  patch($("#partners"), partnersKey, () => (partners.length ? partners.map((p) => {
    const state_ = b.on_air === p.id ? (b.cough ? "Coughing" : "On air") : present(p) ? "Ready" : "Offline";
    const hears = p.console?.hearing || p.channel;
    return el("li", { "data-partner": p.id },
      el("span", { class: `avatar${b.on_air === p.id ? " speaking" : ""}`, "aria-hidden": "true" }, (p.name || "?").slice(0, 1).toUpperCase()),
      el("div", { class: "who" }, el("div", { class: "n" }, p.id === me.id ? `${p.name} (you)` : p.name),
        el("div", { class: "d" }, hears ? `Hears ${hears === "floor" ? "the floor" : `relay ${langName(hears)}`}` : "")),
      el("span", { class: `badge ${{ "On air": "live", Coughing: "amber", Ready: "green" }[state_] || ""}` }, state_));
  }) : [el("li", { class: "muted" }, "You are alone in this booth.")]));

  const h = b.handover; // {from, to, next_on_air, expires_in_s} or null
  const others = partners.filter((p) => p.id !== me.id && present(p));
  patch($("#handover-state"), String(!!h), () => (h ? el("span", { class: "badge amber" }, "Handover pending") : null));
  const acts = [];
  if (h && (h.to === me.id || (h.to == null && h.from !== me.id))) {
    const takeOver = h.next_on_air ? h.next_on_air === me.id : h.from === b.on_air;
    acts.push(el("div", { class: "alert warn", role: "alert" }, takeOver ? `${nameOf(state, h.from)} asks you to take over.` : `${nameOf(state, h.from)} asks to take over from you.`),
      el("div", { class: "btn-group", style: "width:100%" },
        el("button", { class: "btn primary large grow", type: "button", id: "accept-handover", onclick: () => proto.acceptHandover() }, icon("swap"), takeOver ? "Accept: go on air" : "Accept: hand over"),
        el("button", { class: "btn large", type: "button", id: "decline-handover", onclick: () => proto.declineHandover() }, "Decline")));
  } else if (h && h.from === me.id) {
    acts.push(el("div", { class: "alert info", role: "status" }, `Waiting for ${h.to ? nameOf(state, h.to) : "your partner"} to accept…`),
      el("button", { class: "btn block", type: "button", id: "cancel-handover", onclick: () => proto.declineHandover() }, "Cancel request"));
  } else if (onAir && others.length) {
    acts.push(el("button", { class: "btn block", type: "button", id: "request-handover", onclick: () => proto.requestHandover(others.length === 1 ? others[0].id : null) }, icon("swap"), "Hand over to partner"));
  } else if (partnerOnAir) {
    acts.push(el("button", { class: "btn block", type: "button", id: "request-handover", onclick: () => proto.requestHandover(b.on_air) }, icon("swap"), "Ask to take over"));
  }
  patch($("#handover-actions"), JSON.stringify([h && [h.from, h.to, h.next_on_air], onAir, b.on_air, others.map((p) => p.id)]), () => acts);

  // chat
  const chat = $("#chat");
  if (chat.childElementCount !== state.chat.length) {
    chat.replaceChildren(...state.chat.map((m) => el("div", { class: `m${m.system ? " sys" : ""}` }, m.system ? null : el("span", { class: "a" }, m.from === me.id ? "You" : nameOf(state, m.from)), m.text)));
    chat.scrollTop = chat.scrollHeight;
  }
}

if (live) {
  $("#volume").addEventListener("input", (e) => live.rtc.setVolume(Number(e.target.value) / 100));
  const cough = $("#cough");
  cough.addEventListener("pointerdown", (e) => { e.preventDefault(); cough.setPointerCapture?.(e.pointerId); setCough(true); });
  for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) cough.addEventListener(ev, () => setCough(false));
  cough.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); setCough(true); } });
  cough.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") setCough(false); });
  window.addEventListener("keydown", (e) => { if (e.key.toLowerCase() === "c" && !e.repeat && !(e.target instanceof HTMLInputElement)) setCough(true); });
  window.addEventListener("keyup", (e) => { if (e.key.toLowerCase() === "c") setCough(false); });
  window.addEventListener("blur", () => setCough(false));
  $("#slow-down").addEventListener("click", () => {
    live.proto.slowDown();
    const s = $("#slowdown-sent");
    s.hidden = false; s.textContent = "“Slow down” sent to the chair and the speaker.";
    setTimeout(() => { s.hidden = true; }, 4000);
  });
  $("#chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("#chat-text").value.trim();
    if (!t) return;
    live.proto.boothChat(t);
    $("#chat-text").value = "";
    // back to the console: the cough key ("c") and Space on ON AIR work again at once (focus left
    // in the chat typed the "c" of a cough into the next message while on air)
    $("#onair").focus();
  });
  $("#chat-text").addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); $("#onair").focus(); } });
}
