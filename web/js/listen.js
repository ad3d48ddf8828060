// The listening controls every live page shares: channel, floor-under level, volume, level meter.
import { el, $, langName, patch } from "./ui.js";
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

  return function renderListening() {
    const box = $("#channels");
    const chKey = JSON.stringify([state.meeting.languages, state.subscription.channel, state.meeting.languages.map((l) => state.channels[l]?.route)]);
    if (box && patch(box, chKey, () => channelPicker(state, (c) => pick(c))) && box.contains(document.activeElement) === false && focusChannel) {
      box.querySelector(`[data-channel="${focusChannel}"]`)?.focus();
    }
    focusChannel = null;
    const under = $("#under");
    if (under) {
      const levels = [null, ...[...(state.meeting.under_levels_db || [])].sort((a, b) => a - b)];
      const onFloor = state.subscription.channel === "floor";
      patch(under, JSON.stringify([levels, onFloor, state.subscription.floor_under ?? null]), () => levels.map((lv) => el("button", { type: "button", role: "radio", disabled: onFloor,
        "aria-checked": String((state.subscription.floor_under ?? null) === lv), "aria-label": lv === null ? t("listen.under_off") : t("unit.db", { count: lv }),
        onclick: () => pick(state.subscription.channel, lv) }, lv === null ? t("listen.under_off") : el("span", { dir: "ltr" }, `${lv}`))));
    }
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
