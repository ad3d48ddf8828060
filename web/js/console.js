// Interpreter console: hear the floor (or a relay), speak into the booth's language (or its
// retour), on air / cough, handover with the booth partner, booth chat, "slow down".
import { startLive } from "./live.js";
import { el, $, langName, icon, toast, patch } from "./ui.js";
import { meterFollowing } from "./meter.js";
import { t, errorText } from "./i18n.js";
import { setupDevices } from "./devices.js";
import { mountFloorVideo, mountPartnerVideo } from "./video.js";

const live = startLive({ render, onEvent });
if (live) {
  mountFloorVideo(live.video, $("#floor-video"));
  mountPartnerVideo(live.video, $("#partner-video"), $("#partner-toggle"));
}
// the meters follow the Peer's streams (a reconnect brings a new remote one)
const meters = live ? [meterFollowing(() => live.rtc.mic, $("#out-fill")), meterFollowing(() => live.rtc.remote, $("#hear-fill"))] : [];
let coughing = false;
setupDevices(live, $("#devices"));

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(errorText(msg), "error");
  if (msg.type === "notice" && msg.kind?.startsWith("handover")) state.chat.push({ system: true, text: effect.notice, at: Date.now() });
  if (effect?.chat) requestAnimationFrame(() => { const c = $("#chat"); c.scrollTop = c.scrollHeight; });
  if (effect?.notice) toast(effect.notice);
}

function myBooth(state) { return state.booths[state.me.booth] || { on_air: null, consoles: {}, members: [] }; }
const nameOf = (state, id) => state.participants.get(id)?.name || t("console.your_partner");

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

  document.title = `${t("console.booth_of", { language: langName(me.booth) })} — MIRP`;
  $("#booth-title").replaceChildren(t("console.booth"), " ", el("span", { lang: me.booth }, langName(me.booth)), el("span", { class: "muted", style: "font-weight:500" }, ` · ${me.booth?.toUpperCase() || ""}`));
  const fl = state.floor.language;
  patch($("#floor-lang"), `${fl}|${state.floor.language_auto}`, () => [fl ? el("span", { lang: fl }, langName(fl)) : "—", fl && state.floor.language_auto ? el("span", { class: "muted", style: "font-weight:500" }, ` ${t("console.auto_paren")}`) : ""]);
  $("#floor-speaker").textContent = state.floor.holders.map((h) => state.participants.get(h)?.name || t("common.participant")).join(", ") || t("console.nobody");

  // what I hear: the floor, or a relay (chosen by me, or by the server's auto-relay)
  const hearing = state.heard?.channel || state.subscription.channel || "floor";
  const auto = !!state.heard?.auto;
  // "Partner (this booth)": the booth's own output (A or the retour it works into now), so the
  // partner off air hears their colleague before taking over; never the voice on air (the
  // server refuses it as a relay loop, and sends a partner who goes on air back to the floor)
  const boothOut = b.channel || me.booth;
  const partner = !auto && hearing === boothOut;
  patch($("#hear-now"), JSON.stringify([hearing, partner]), () => (hearing === "floor" ? t("channel.floor") : partner ? t("console.partner_source")
    : el("span", {}, `${t("console.relay")} · `, el("span", { lang: hearing }, langName(hearing)))));
  const understands = b.understands_floor ?? (!fl || fl === me.booth || (booth.understands || []).includes(fl));
  $("#hear-why").textContent = auto
    ? (hearing === "floor" ? t("console.why.auto_floor")
      : t("console.why.auto_relay", { floor: langName(fl), relay: langName(hearing) }))
    : hearing === "floor" ? (understands ? t("console.why.floor_chosen") : t("console.why.floor_not_understood", { floor: langName(fl) }))
      : partner ? t("console.why.partner") : t("console.why.relay_chosen");
  $("#hear-auto").hidden = !(auto && hearing !== "floor");
  // sources: auto-relay, the floor, or another booth's channel (a green dot: interpreted now)
  const sources = ["auto", "floor", ...state.meeting.booths.map((x) => x.language).filter((l) => l !== me.booth && l !== boothOut), "partner"];
  const chosen = auto ? "auto" : partner ? "partner" : hearing;
  patch($("#sources"), JSON.stringify([chosen, sources.map((x) => state.channels[x]?.route), onAir, boothOut]), () => sources.map((s) => {
    const relay = s !== "floor" && s !== "auto" && s !== "partner";
    const live_ = relay && state.channels[s]?.route === "interpretation";
    const channel = s === "partner" ? boothOut : s;
    return el("button", { type: "button", role: "radio", "aria-checked": String(chosen === s), "data-source": s,
      disabled: s === "partner" && onAir, title: s === "partner" && onAir ? t("console.partner_not_on_air") : null,
      onclick: () => {
        // the server keeps auto-relay when the hand-picked source is the one auto already gives
        if (auto && channel === hearing) { toast(t("console.auto_already")); return; }
        live.state.wanted = { channel, floor_under: null };
        proto.subscribe(channel, null);
      } },
    s === "floor" ? t("channel.floor") : s === "auto" ? t("console.auto") : s === "partner" ? t("console.partner_source") : el("span", { lang: s }, langName(s)),
    relay ? el("span", { class: `dot ${live_ ? "ok" : ""}`, title: live_ ? t("console.interpreted_now") : t("console.nobody_on_air") }) : null,
    relay ? el("span", { class: "visually-hidden" }, ` (${live_ ? t("console.interpreted_now") : t("console.nobody_on_air")})`) : null);
  }));

  // on air
  const light = $("#onair-light");
  light.className = `onair-light${onAir ? (coughing || b.cough ? " cough" : " on") : ""}`;
  light.textContent = onAir ? (coughing || b.cough ? t("console.muted_cough") : t("console.on_air_into", { language: langName(b.channel || me.booth) }))
    : partnerOnAir ? (b.cough ? t("console.partner_on_air_cough", { name: nameOf(state, b.on_air) }) : t("console.partner_on_air", { name: nameOf(state, b.on_air) })) : t("console.off_air");
  const btn = $("#onair");
  btn.setAttribute("aria-pressed", String(onAir));
  btn.disabled = !!partnerOnAir;
  $("#onair-sub").textContent = onAir ? t("console.press_off") : partnerOnAir ? t("console.partner_is_on_air") : t("console.press_live");
  btn.onclick = () => proto.setOnAir(!onAir);
  $("#cough").setAttribute("aria-pressed", String(coughing));
  $("#cough").disabled = !onAir;

  const outs = b.outputs?.length ? b.outputs : [me.booth, booth.retour].filter(Boolean);
  const into = b.channel || me.booth;
  // while a partner is on air, only they switch the booth's output
  patch($("#outputs"), JSON.stringify([outs, into, !!partnerOnAir]), () => outs.map((o, i) => el("button", { type: "button", role: "radio", "aria-checked": String(into === o), "data-output": o, disabled: !!partnerOnAir,
    onclick: () => proto.setOutput(o) }, el("span", { class: "code" }, i === 0 ? "A" : `B · ${t("console.retour")}`), " ", el("span", { lang: o }, langName(o)))));

  // booth partners and handover
  const memberIds = b.members?.length ? b.members
    : [...state.participants.values()].filter((p) => p.role === "interpreter" && p.booth === me.booth).map((p) => p.id);
  const partners = memberIds.map((id) => ({ id, ...(state.participants.get(id) || { name: t("role.interpreter") }), console: b.consoles?.[id] }));
  const present = (p) => p.console ? p.console.connected !== false : p.connected !== false;
  // my camera goes up only while a partner is in the booth: nobody else ever sees it
  live.video.setCameraEnabled(partners.some((p) => p.id !== me.id && present(p)));
  const partnersKey = JSON.stringify([partners.map((p) => [p.id, p.name, p.console, p.connected, p.channel]), b.on_air, b.cough, me.id, boothOut]);
  patch($("#partners"), partnersKey, () => (partners.length ? partners.map((p) => {
    const state_ = b.on_air === p.id ? (b.cough ? "coughing" : "on_air") : present(p) ? "ready" : "offline";
    const hears = p.console?.hearing || p.channel;
    return el("li", { "data-partner": p.id },
      el("span", { class: `avatar${b.on_air === p.id ? " speaking" : ""}`, "aria-hidden": "true" }, (p.name || "?").slice(0, 1).toUpperCase()),
      el("div", { class: "who" }, el("div", { class: "n" }, p.id === me.id ? t("console.name_you", { name: p.name }) : p.name),
        el("div", { class: "d" }, hears ? (hears === "floor" ? t("console.hears_floor") : hears === boothOut ? t("console.hears_booth") : t("console.hears_relay", { language: langName(hears) })) : "")),
      el("span", { class: `badge ${{ on_air: "live", coughing: "amber", ready: "green" }[state_] || ""}` }, t(`console.partner.${state_}`)));
  }) : [el("li", { class: "muted" }, t("console.alone"))]));

  const h = b.handover; // {from, to, next_on_air, expires_in_s} or null
  const others = partners.filter((p) => p.id !== me.id && present(p));
  patch($("#handover-state"), String(!!h), () => (h ? el("span", { class: "badge amber" }, t("console.handover_pending")) : null));
  const acts = [];
  if (h && (h.to === me.id || (h.to == null && h.from !== me.id))) {
    const takeOver = h.next_on_air ? h.next_on_air === me.id : h.from === b.on_air;
    acts.push(el("div", { class: "alert warn", role: "alert" }, takeOver ? t("console.asks_you_take_over", { name: nameOf(state, h.from) }) : t("console.asks_take_over_from_you", { name: nameOf(state, h.from) })),
      el("div", { class: "btn-group", style: "width:100%" },
        el("button", { class: "btn primary large grow", type: "button", id: "accept-handover", onclick: () => proto.acceptHandover() }, icon("swap"), takeOver ? t("console.accept_go") : t("console.accept_hand")),
        el("button", { class: "btn large", type: "button", id: "decline-handover", onclick: () => proto.declineHandover() }, t("console.decline"))));
  } else if (h && h.from === me.id) {
    acts.push(el("div", { class: "alert info", role: "status" }, t("console.waiting_accept", { name: h.to ? nameOf(state, h.to) : t("console.your_partner") })),
      el("button", { class: "btn block", type: "button", id: "cancel-handover", onclick: () => proto.declineHandover() }, t("console.cancel_request")));
  } else if (onAir && others.length) {
    acts.push(el("button", { class: "btn block", type: "button", id: "request-handover", onclick: () => proto.requestHandover(others.length === 1 ? others[0].id : null) }, icon("swap"), t("console.hand_over")));
  } else if (partnerOnAir) {
    acts.push(el("button", { class: "btn block", type: "button", id: "request-handover", onclick: () => proto.requestHandover(b.on_air) }, icon("swap"), t("console.ask_take_over")));
  }
  patch($("#handover-actions"), JSON.stringify([h && [h.from, h.to, h.next_on_air], onAir, b.on_air, others.map((p) => p.id)]), () => acts);

  // chat
  const chat = $("#chat");
  if (chat.childElementCount !== state.chat.length) {
    chat.replaceChildren(...state.chat.map((m) => el("div", { class: `m${m.system ? " sys" : ""}` }, m.system ? null : el("span", { class: "a" }, m.from === me.id ? t("common.you") : nameOf(state, m.from)), m.text)));
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
  // the C key where it is on the keyboard (`code`): on an Arabic or Russian layout it types "ؤ"
  // or "с", and the cough key must work whatever layout the interpreter writes in
  const coughKey = (e) => e.code === "KeyC" || e.key.toLowerCase() === "c";
  window.addEventListener("keydown", (e) => { if (coughKey(e) && !e.repeat && !(e.target instanceof HTMLInputElement)) setCough(true); });
  window.addEventListener("keyup", (e) => { if (coughKey(e)) setCough(false); });
  window.addEventListener("blur", () => setCough(false));
  $("#slow-down").addEventListener("click", () => {
    live.proto.slowDown();
    const s = $("#slowdown-sent");
    s.hidden = false; s.textContent = t("console.slow_down_sent");
    setTimeout(() => { s.hidden = true; }, 4000);
  });
  $("#chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("#chat-text").value.trim();
    if (!text) return;
    live.proto.boothChat(text);
    $("#chat-text").value = "";
    // back to the console: the cough key ("c") and Space on ON AIR work again at once (focus left
    // in the chat typed the "c" of a cough into the next message while on air)
    $("#onair").focus();
  });
  $("#chat-text").addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); $("#onair").focus(); } });
}
