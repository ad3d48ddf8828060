// The floor video: the camera of whoever has the floor (else the chair's), forwarded by the
// server as it comes (never re-encoded, docs/video.md). One video m-line beside the audio one:
// `sendrecv` with the camera for those who may take the floor, `recvonly` for everyone else.
// Without a camera, or when the camera is refused, the participant still takes the floor:
// audio only. "Video off" (`video_set`) asks the server to send no video at all (poor lines).
// Interpreters offer a third m-line, `recvonly`: the partner video, their booth partner's camera,
// small beside the floor video; it carries packets only while turned on (`video_set {partner}`).
import { t } from "./i18n.js";

const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 30 } };

export class FloorVideo {
  /**
   * @param {object} o
   * @param {boolean} o.camera   offer the camera (chair, delegate)
   * @param {boolean} [o.cameraOn] its pictures on from the start (the chair, interpreters)
   * @param {boolean} [o.partner] offer the partner video's m-line (interpreters)
   * @param {(msg:{on:boolean, partner?:boolean})=>void} o.sendVideoSet  tell the Room (`video_set`)
   */
  constructor(o) {
    this.o = o;
    this.cam = null;
    this.noCamera = false;
    // the camera sends only while it can be the floor video (the chair always, a delegate
    // while holding the floor); otherwise the sender has no track and sends nothing
    this.cameraEnabled = !!o.cameraOn;
    this.sender = null;
    this.off = localStorage.getItem("mirp.video_off") === "1";
    this.stream = null;
    this.receiving = false;
    // the partner video (interpreters): its own m-line, stream and switch
    this.partnerOn = !!o.partner && localStorage.getItem("mirp.partner_video") === "1";
    this.partnerTransceiver = null;
    this.partnerStream = null;
    this.partnerReceiving = false;
    this.listeners = new Set();
  }

  /** Called by Rtc.start() after the audio transceiver: the video m-line. */
  async addTo(pc) {
    let track = null;
    if (this.o.camera && !this.noCamera) {
      try {
        this.cam = this.cam || await navigator.mediaDevices.getUserMedia({ video: CAMERA });
        track = this.cam.getVideoTracks()[0] || null;
      } catch { this.noCamera = true; this.cam = null; } // no camera, or refused: audio only
    }
    const tr = track
      ? pc.addTransceiver(this.cameraEnabled ? track : "video", { direction: "sendrecv", streams: [this.cam] })
      : pc.addTransceiver("video", { direction: "recvonly" });
    this.sender = track ? tr.sender : null;
    // VP8 and H.264 in this browser's own order: the server answers in the offer's order, so
    // the camera sends what the browser prefers; the floor video may arrive in either
    try {
      const caps = RTCRtpReceiver.getCapabilities?.("video");
      const codecs = caps?.codecs.filter((c) => /^video\/(vp8|h264|rtx)$/i.test(c.mimeType));
      if (codecs?.some((c) => /vp8/i.test(c.mimeType))) tr.setCodecPreferences(codecs);
    } catch { /* the server answers VP8 or H.264 anyway */ }
    this.partnerTransceiver = this.o.partner ? pc.addTransceiver("video", { direction: "recvonly" }) : null;
    this.changed();
  }

  /** Called by Rtc for the remote video track. */
  onTrack(ev) {
    const track = ev.track;
    if (this.partnerTransceiver && ev.transceiver === this.partnerTransceiver) {
      this.partnerStream = new MediaStream([track]);
      this.partnerReceiving = !track.muted;
      track.onmute = () => { this.partnerReceiving = false; this.changed(); };
      track.onunmute = () => { this.partnerReceiving = true; this.changed(); };
      this.changed();
      return;
    }
    this.stream = new MediaStream([track]);
    this.receiving = !track.muted;
    track.onmute = () => { this.receiving = false; this.changed(); };
    track.onunmute = () => { this.receiving = true; this.changed(); };
    // a new peer connection: the Room keeps our choice, but a reload forgot it; say it again
    if (this.off || this.partnerOn) this.o.sendVideoSet(this.o.partner ? { on: !this.off, partner: this.partnerOn } : { on: !this.off });
    this.changed();
  }

  setCameraEnabled(on) {
    if (!!on === this.cameraEnabled) return;
    this.cameraEnabled = !!on;
    const track = this.cam?.getVideoTracks()[0];
    if (this.sender && track) this.sender.replaceTrack(this.cameraEnabled ? track : null).catch(() => {});
  }

  setOff(off) {
    this.off = !!off;
    localStorage.setItem("mirp.video_off", this.off ? "1" : "0");
    this.o.sendVideoSet({ on: !this.off });
    this.changed();
  }

  /** The partner video on or off (interpreters); with video off it stays dark either way. */
  setPartner(on) {
    if (!this.o.partner) return;
    this.partnerOn = !!on;
    localStorage.setItem("mirp.partner_video", this.partnerOn ? "1" : "0");
    this.o.sendVideoSet({ on: !this.off, partner: this.partnerOn });
    this.changed();
  }

  onChange(fn) { this.listeners.add(fn); fn(this); return () => this.listeners.delete(fn); }
  changed() { this.listeners.forEach((fn) => fn(this)); }

  close() { this.cam?.getTracks().forEach((tr) => tr.stop()); this.cam = null; }
}

/**
 * Show the floor video in `box` (a <video> inside, made here) with a caption for what is not
 * shown: video off, or the speaker sends none (audio only). `toggle`: a button for video off.
 */
export function mountFloorVideo(video, box, toggle = null) {
  if (!video || !box) return;
  const el = box.querySelector("video") || Object.assign(document.createElement("video"), { autoplay: true, muted: true, playsInline: true });
  el.muted = true; // the sound comes with the audio m-line (mixed, interpreted)
  if (!el.isConnected) box.append(el);
  const caption = box.querySelector(".video-caption") || Object.assign(document.createElement("div"), { className: "video-caption muted small" });
  if (!caption.isConnected) box.append(caption);
  if (toggle) toggle.addEventListener("click", () => video.setOff(!video.off));
  video.onChange((v) => {
    if (v.stream && el.srcObject !== v.stream) { el.srcObject = v.stream; el.play().catch(() => {}); }
    const showing = !v.off && v.receiving;
    el.hidden = !showing;
    caption.textContent = v.off ? t("video.is_off") : showing ? "" : t("video.audio_only");
    caption.hidden = showing;
    if (toggle) {
      toggle.textContent = v.off ? t("video.turn_on") : t("video.turn_off");
      toggle.setAttribute("aria-pressed", String(v.off));
    }
    box.dataset.noCamera = v.noCamera ? "1" : "";
  });
}

/**
 * Show the booth partner's video in `box` (small), with `toggle` to turn it on or off, and a
 * caption for what is not shown: turned off, video off, or the partner sends none (no camera,
 * or no partner in the booth).
 */
export function mountPartnerVideo(video, box, toggle) {
  if (!video?.o.partner || !box) { if (box) box.hidden = true; return; }
  const el = box.querySelector("video") || Object.assign(document.createElement("video"), { autoplay: true, muted: true, playsInline: true });
  el.muted = true;
  if (!el.isConnected) box.append(el);
  const caption = box.querySelector(".video-caption") || Object.assign(document.createElement("div"), { className: "video-caption muted small" });
  if (!caption.isConnected) box.append(caption);
  toggle?.addEventListener("click", () => video.setPartner(!video.partnerOn));
  video.onChange((v) => {
    if (v.partnerStream && el.srcObject !== v.partnerStream) { el.srcObject = v.partnerStream; el.play().catch(() => {}); }
    const showing = v.partnerOn && !v.off && v.partnerReceiving;
    el.hidden = !showing;
    caption.textContent = !v.partnerOn ? t("video.partner_hidden") : v.off ? t("video.is_off") : showing ? "" : t("video.partner_none");
    caption.hidden = showing;
    if (toggle) {
      toggle.textContent = v.partnerOn ? t("video.partner_hide") : t("video.partner_show");
      toggle.setAttribute("aria-pressed", String(v.partnerOn));
    }
  });
}
