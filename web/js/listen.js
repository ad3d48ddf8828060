// The listening controls every live page shares: channel, original audio volume (the floor under
// the interpretation), volume, level meter.
import { $, langName, patch } from "./ui.js";
import { channelPicker } from "./live.js";
import { meterFollowing } from "./meter.js";
import { t } from "./i18n.js";

let focusChannel = null;

export function setupListening(live) {
  const { state, proto, rtc } = live;
  const pick = (channel, floorUnder = state.subscription.floor_under) => {
    if (document.activeElement?.dataset?.channel) focusChannel = channel;
    state.subscription = { channel, floor_under: channel === "floor" ? null : floorUnder };
    state.wanted = state.subscription;
    proto.subscribe(channel, state.subscription.floor_under);
    live.rerender();
  };
  $("#volume")?.addEventListener("input", (e) => rtc.setVolume(Number(e.target.value) / 100));
  // the meter follows the Peer's remote stream, which a reconnect replaces
  setInterval(meterFollowing(() => rtc.remote, $("#hear-fill")), 300);

  // "Original audio volume": a slider over the few floor-under levels the meeting offers (off,
  // then quietest to loudest). Steps, not a continuous gain: the server encodes one feed per
  // distinct (channel, level), so a fixed set keeps the number of encoders bounded.
  const original = $("#original");
  const originalLevels = () => [null, ...[...(state.meeting.under_levels_db || [])].sort((a, b) => a - b)];
  const levelText = (lv) => (lv === null ? t("listen.under_off") : t("unit.db", { count: lv }));
  const showOriginal = (lv) => {
    original.setAttribute("aria-valuetext", levelText(lv));
    const out = $("#original-value");
    out.textContent = levelText(lv);
    out.dir = "ltr";
  };
  function renderOriginal() {
    if (!original) return;
    const levels = originalLevels();
    const onFloor = state.subscription.channel === "floor";
    const lv = state.subscription.floor_under ?? null;
    const at = Math.max(0, levels.indexOf(lv));
    original.max = String(levels.length - 1);
    if (Number(original.value) !== at) original.value = String(at);
    original.disabled = onFloor;
    showOriginal(onFloor ? null : levels[at]);
    $("#original-hint").textContent = onFloor ? t("listen.original_on_floor") : t("listen.original_hint");
  }
  original?.addEventListener("input", () => showOriginal(originalLevels()[Number(original.value)] ?? null));
  original?.addEventListener("change", () => {
    const lv = originalLevels()[Number(original.value)] ?? null;
    if (state.subscription.channel !== "floor" && lv !== (state.subscription.floor_under ?? null)) pick(state.subscription.channel, lv);
  });

  return function renderListening() {
    const box = $("#channels");
    const chKey = JSON.stringify([state.meeting.languages, state.subscription.channel, state.meeting.languages.map((l) => state.channels[l]?.route)]);
    if (box && patch(box, chKey, () => channelPicker(state, (c) => pick(c))) && box.contains(document.activeElement) === false && focusChannel) {
      box.querySelector(`[data-channel="${focusChannel}"]`)?.focus();
    }
    focusChannel = null;
    renderOriginal();
    const now = $("#listen-now");
    if (now) now.textContent = hearingText(state);
  };
}

/** What the listener hears, honestly: a language channel with nobody on air carries the floor
 * (route `auto_floor`, docs/rooms.md "Routes") or nothing (`silence`), not that language. */
export function hearingText(state) {
  const ch = state.subscription.channel;
  const route = state.channels[ch]?.route;
  if (ch !== "floor" && route === "auto_floor") return t("listen.no_interp_original");
  if (ch !== "floor" && route === "silence") return t("listen.no_interp_silence", { language: langName(ch) });
  return t("listen.hearing", { language: langName(ch) });
}
