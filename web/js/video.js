// The floor video: the camera of whoever has the floor (else the chair's), forwarded by the
// server as it comes (never re-encoded, docs/video.md). One video m-line beside the audio one:
// `sendrecv` with the camera for those who may take the floor, `recvonly` for everyone else.
// Without a camera, or when the camera is refused, the participant still takes the floor:
// audio only. "Video off" (`video_set`) asks the server to send no video at all (poor lines).
import { t } from "./i18n.js";

const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 30 } };

export class FloorVideo {
  /**
   * @param {object} o
   * @param {boolean} o.camera   offer the camera (chair, delegate)
   * @param {boolean} [o.cameraOn] its pictures on from the start (the chair)
   * @param {(on:boolean)=>void} o.sendVideoSet  tell the Room (`video_set`)
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
    try {
      const caps = RTCRtpReceiver.getCapabilities?.("video");
      const vp8 = caps?.codecs.filter((c) => /^video\/(vp8|rtx)$/i.test(c.mimeType));
      if (vp8?.some((c) => /vp8/i.test(c.mimeType))) tr.setCodecPreferences(vp8);
    } catch { /* the server answers VP8 anyway */ }
    this.changed();
  }

  /** Called by Rtc for the remote video track. */
  onTrack(ev) {
    const track = ev.track;
    this.stream = new MediaStream([track]);
    this.receiving = !track.muted;
    track.onmute = () => { this.receiving = false; this.changed(); };
    track.onunmute = () => { this.receiving = true; this.changed(); };
    if (this.off) this.o.sendVideoSet(false);
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
    this.o.sendVideoSet(!this.off);
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
