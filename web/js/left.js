// The Leave page: a Rejoin button brings this tab back as the same participant (same seat and
// channel: the Room keeps them, docs/rooms.md), without the invitation e-mail.
import "./shell.js";
import { api } from "./api.js";
import { el, $, showError, setBusy } from "./ui.js";
import { t } from "./i18n.js";
import { loadLeft, lastJoinedLink, rejoin, whyNot } from "./session.js";

// this tab's own leave, else (the page opened on its own) the link this browser joined last
const left = loadLeft() || (lastJoinedLink() ? { link: lastJoinedLink() } : null);
const box = $("#rejoin-box");
if (left?.link && box) {
  const btn = el("button", { class: "btn primary large", type: "button", id: "rejoin" }, t("left.rejoin"));
  const err = el("div", { id: "rejoin-error", hidden: true });
  btn.addEventListener("click", async () => {
    setBusy(btn, true, t("left.rejoining"));
    try {
      location.assign(await rejoin(api, left.link, { mic_device_id: left.mic_device_id || null }));
    } catch (e) {
      setBusy(btn, false);
      showError(err, new Error(whyNot(e)));
    }
  });
  $("#left-hint").textContent = left.title
    ? t("left.come_back_to", { title: left.title }) : t("left.come_back");
  box.replaceChildren(btn, err);
  box.hidden = false;
}
