// One RTCPeerConnection per Session: one audio transceiver, the microphone up and the chosen
// Channel down. Trickle ICE; the remote stream plays in an <audio> element (`remote`, the stream,
// is what a level meter reads, as `mic` is for the microphone).

const MIC_CONSTRAINTS = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

export class Rtc {
  /**
   * @param {object} o
   * @param {boolean} o.send         open the microphone (delegate, chair, interpreter)
   * @param {string|null} o.micDeviceId
   * @param {(sdp:string)=>void} o.sendOffer        hand the offer to signaling
   * @param {(c:object|null)=>void} o.sendCandidate hand a local candidate (null: gathering done)
   * @param {RTCIceServer[]} [o.iceServers]
   * @param {(state:string)=>void} [o.onState]
   * @param {{addTo:(pc:RTCPeerConnection)=>Promise<void>, onTrack:(ev:RTCTrackEvent)=>void}} [o.video]
   *        the floor video's m-line (video.js)
   */
  constructor(o) {
    this.o = o;
    this.pc = null;
    this.mic = null;
    this.micEnabled = false;
    this.audio = document.getElementById("remote-audio") || Object.assign(document.createElement("audio"), { id: "remote-audio", autoplay: true });
    this.audio.autoplay = true;
    if (!this.audio.isConnected) { this.audio.hidden = true; document.body.append(this.audio); }
    this.remote = null;
    this.state = "new";
    this.stats = { rtt: null, jitter: null, lost: 0, received: 0 };
  }

  async openMic() {
    if (this.mic || !this.o.send) return this.mic;
    const audio = { ...MIC_CONSTRAINTS };
    if (this.o.micDeviceId) audio.deviceId = { ideal: this.o.micDeviceId };
    this.mic = await navigator.mediaDevices.getUserMedia({ audio });
    const track = this.mic.getAudioTracks()[0];
    track.enabled = this.micEnabled;
    return this.mic;
  }

  /** Start (or restart after a reconnect): a new RTCPeerConnection and a new offer. */
  async start() {
    this.closePc();
    this.stats = { rtt: null, jitter: null, lost: 0, received: 0 }; // a new connection counts from 0
    if (this.o.send) await this.openMic();
    const pc = new RTCPeerConnection({ iceServers: this.o.iceServers || [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    this.pc = pc;
    const track = this.mic?.getAudioTracks()[0];
    const tr = track
      ? pc.addTransceiver(track, { direction: "sendrecv", streams: [this.mic] })
      : pc.addTransceiver("audio", { direction: "recvonly" });
    try {
      const caps = RTCRtpReceiver.getCapabilities?.("audio");
      const opus = caps?.codecs.filter((c) => c.mimeType.toLowerCase() === "audio/opus");
      if (opus?.length) tr.setCodecPreferences(opus);
    } catch { /* older browsers: the server picks Opus anyway */ }
    if (this.o.video) await this.o.video.addTo(pc);
    pc.ontrack = (ev) => {
      if (ev.track.kind === "video") { this.o.video?.onTrack(ev); return; }
      this.attach(ev.streams[0] || new MediaStream([ev.track]));
    };
    pc.onicecandidate = (ev) => {
      if (pc !== this.pc) return;
      this.o.sendCandidate(ev.candidate ? ev.candidate.toJSON() : null);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this.state = pc.connectionState;
      this.o.onState?.(this.state);
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.o.sendOffer(pc.localDescription.sdp);
  }

  async acceptAnswer(sdp) {
    if (!this.pc) return;
    await this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  async addCandidate(c) {
    if (!this.pc) return;
    try { await this.pc.addIceCandidate(c || null); } catch (e) { console.warn("remote candidate refused", e); }
  }

  attach(stream) {
    this.remote = stream;
    this.audio.srcObject = stream;
    this.audio.play().catch(() => this.o.onAutoplayBlocked?.());
  }

  /** The microphone goes out only while the Room lets this participant speak. */
  setMicEnabled(on) {
    this.micEnabled = !!on;
    const t = this.mic?.getAudioTracks()[0];
    if (t) t.enabled = this.micEnabled;
  }

  setVolume(v) { this.audio.volume = Math.max(0, Math.min(1, v)); }

  async switchMic(deviceId) {
    this.o.micDeviceId = deviceId;
    if (!this.o.send) return;
    const old = this.mic;
    this.mic = null;
    await this.openMic();
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === "audio" || s.track === null);
    if (sender) await sender.replaceTrack(this.mic.getAudioTracks()[0]);
    old?.getTracks().forEach((t) => t.stop());
  }

  /** Round-trip time, jitter and loss, for the connection-quality badge. */
  async quality() {
    if (!this.pc) return null;
    const rep = await this.pc.getStats();
    let rtt = null, jitter = null, lost = 0, received = 0;
    rep.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime;
      if (s.type === "inbound-rtp" && s.kind === "audio") { jitter = s.jitter; lost = s.packetsLost; received = s.packetsReceived; }
    });
    const dLost = lost - this.stats.lost, dRecv = received - this.stats.received;
    this.stats = { rtt, jitter, lost, received };
    const loss = dLost + dRecv > 0 && dLost >= 0 ? dLost / (dLost + dRecv) : 0;
    return { rtt, jitter, loss, grade: gradeQuality({ rtt, jitter, loss, received }), received };
  }

  closePc() {
    if (this.pc) { const pc = this.pc; this.pc = null; try { pc.close(); } catch { /* closed */ } }
  }

  close() {
    this.closePc();
    this.mic?.getTracks().forEach((t) => t.stop());
    this.mic = null;
  }
}

/** The connection-quality badge's grade from one interval: `loss` (0-1, of the packets due),
 * `rtt` and `jitter` in seconds (null: not measured yet), `received` packets in all. */
export function gradeQuality({ rtt = null, jitter = null, loss = 0, received = 0 }) {
  if (rtt == null && !received) return "unknown";
  if (loss > 0.05 || (rtt ?? 0) > 0.4 || (jitter ?? 0) > 0.05) return "poor";
  if (loss > 0.01 || (rtt ?? 0) > 0.2) return "fair";
  return "good";
}
