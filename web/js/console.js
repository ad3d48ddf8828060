// Interpreter console: hear the floor (or a relay), speak into the booth's language (or its
// retour), on air / cough, handover with the booth partner, booth chat, "slow down".
import { startLive } from "./live.js";
import { el, $, langName, icon, toast } from "./ui.js";
import { levelMeter } from "./meter.js";

const live = startLive({ render, onEvent });
let meters = false;
let coughing = false;

function onEvent(msg, state, effect) {
  if (msg.type === "error") toast(msg.message || msg.code, "error");
  if (effect?.chat) requestAnimationFrame(() => { const c = $("#chat"); c.scrollTop = c.scrollHeight; });
  if (effect?.notice) toast(effect.notice);
}

function myBooth(state) { return state.booths[state.me.booth] || { on_air: null, consoles: {} }; }
const nameOf = (state, id) => state.participants.get(id)?.name || "Partner";

function setCough(on) {
  if (!live || coughing === on) return;
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
  applyMic(state);
  if (!meters && live.rtc.mic) { meters = true; levelMeter(live.rtc.mic, $("#out-fill")); }
  if (live.rtc.remote && !$("#hear-fill").dataset.on) { $("#hear-fill").dataset.on = "1"; levelMeter(live.rtc.remote, $("#hear-fill")); }

  document.title = `Booth ${langName(me.booth)} — MIRP`;
  $("#booth-title").replaceChildren("Booth ", el("span", { lang: me.booth }, langName(me.booth)), el("span", { class: "muted", style: "font-weight:500" }, ` · ${me.booth?.toUpperCase() || ""}`));
  $("#floor-lang").textContent = state.floor.language ? langName(state.floor.language) : "—";
  $("#floor-speaker").textContent = state.floor.holders.map((h) => state.participants.get(h)?.name || "Participant").join(", ") || "Nobody";

  // what I hear
  const hearing = state.subscription.channel || "floor";
  $("#hear-now").textContent = hearing === "floor" ? "Floor" : `Relay from ${langName(hearing)}`;
  const floorLang = state.floor.language;
  const needsRelay = floorLang && floorLang !== me.booth && booth.understands && !booth.understands.includes(floorLang);
  $("#hear-why").textContent = b.relay_auto || (needsRelay && hearing !== "floor")
    ? `Auto relay: your booth does not take ${langName(floorLang)} directly.` : hearing === "floor" ? "The original speaker." : "Another booth's interpretation.";
  const sources = ["floor", ...state.meeting.booths.map((x) => x.language).filter((l) => l !== me.booth)];
  $("#sources").replaceChildren(...sources.map((s) => el("button", { type: "button", role: "radio", "aria-checked": String(hearing === s), "data-source": s,
    onclick: () => { state.subscription = { channel: s, floor_under: null }; proto.subscribe(s, null); render(state); } },
    s === "floor" ? "Floor" : el("span", { lang: s }, langName(s)))));

  // on air
  const light = $("#onair-light");
  light.className = `onair-light${onAir ? (coughing ? " cough" : " on") : ""}`;
  light.textContent = onAir ? (coughing ? "Muted · cough" : `On air · ${langName(b.channel || me.booth)}`) : partnerOnAir ? `${nameOf(state, b.on_air)} is on air` : "Off air";
  const btn = $("#onair");
  btn.setAttribute("aria-pressed", String(onAir));
  btn.disabled = !!partnerOnAir;
  $("#onair-sub").textContent = onAir ? "Press to go off air" : partnerOnAir ? "Ask for a handover" : "Press to go live";
  btn.onclick = () => proto.setOnAir(!onAir);
  $("#cough").setAttribute("aria-pressed", String(coughing));
  $("#cough").disabled = !onAir;

  const outs = [me.booth, booth.retour].filter(Boolean);
  const into = b.channel || me.booth;
  $("#outputs").replaceChildren(...outs.map((o, i) => el("button", { type: "button", role: "radio", "aria-checked": String(into === o), "data-output": o,
    onclick: () => proto.setOutput(o) }, el("span", { class: "code" }, i === 0 ? "A" : "B · retour"), " ", el("span", { lang: o }, langName(o)))));

  // booth partners and handover
  const partners = [...state.participants.values()].filter((p) => p.role === "interpreter" && p.booth === me.booth && p.connected !== false);
  $("#partners").replaceChildren(...(partners.length ? partners.map((p) => el("li", {},
    el("span", { class: `avatar${b.on_air === p.id ? " speaking" : ""}`, "aria-hidden": "true" }, (p.name || "?").slice(0, 1).toUpperCase()),
    el("div", { class: "who" }, el("div", { class: "n" }, p.id === me.id ? `${p.name} (you)` : p.name), el("div", { class: "d" }, b.on_air === p.id ? "On air" : "Ready")),
    b.on_air === p.id ? el("span", { class: "badge live" }, "On air") : el("span", { class: "badge green" }, "Ready"))) :
    [el("li", { class: "muted" }, "You are alone in this booth.")]));

  const h = b.handover; // {from, to} or null
  const hs = $("#handover-state");
  hs.replaceChildren(h ? el("span", { class: "badge amber" }, "Handover pending") : "");
  const acts = [];
  if (h && h.to === me.id) {
    acts.push(el("div", { class: "alert warn", role: "alert" }, `${nameOf(state, h.from)} asks you to take over.`),
      el("button", { class: "btn primary block large", type: "button", id: "accept-handover", onclick: () => proto.acceptHandover() }, icon("swap"), "Accept handover: go on air"));
  } else if (h && h.from === me.id) {
    acts.push(el("div", { class: "alert info", role: "status" }, `Waiting for ${nameOf(state, h.to) || "your partner"} to accept…`));
  } else if (onAir && partners.some((p) => p.id !== me.id)) {
    acts.push(el("button", { class: "btn block", type: "button", id: "request-handover", onclick: () => proto.requestHandover(partners.find((p) => p.id !== me.id)?.id) }, icon("swap"), "Hand over to partner"));
  } else if (partnerOnAir) {
    acts.push(el("button", { class: "btn block", type: "button", id: "request-handover", onclick: () => proto.requestHandover(b.on_air) }, icon("swap"), "Ask to take over"));
  }
  $("#handover-actions").replaceChildren(...acts);

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
  });
}
