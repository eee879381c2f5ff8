// A bare page over the JS package: the browser tests drive it through
// `window.t` (join, publish, counters). It logs nothing to the console.
import { Room, openDevice, forgetDevice } from "/pkg/index.js";

const t = {
  room: null,
  events: [],
  chats: [],
  acked: new Set(),
  videos: new Map(),
  local: {},
  count(type, pred = () => true) {
    return this.events.filter((e) => e.type === type && pred(e)).length;
  },
  async join(url, token) {
    const room = new Room();
    this.room = room;
    const record = (e) => {
      // Keep events without the track objects (not serialisable).
      const { track, error, ...rest } = e;
      if (error) rest.error = { code: error.code, message: error.message };
      this.events.push(rest);
    };
    for (const type of [
      "connectionStateChanged",
      "welcome",
      "waiting",
      "admitted",
      "lobbyChanged",
      "participantJoined",
      "participantLeft",
      "permissionsChanged",
      "permissionRequested",
      "trackPublished",
      "trackUnpublished",
      "trackSubscribed",
      "trackUnsubscribed",
      "trackRefused",
      "localTrackStopped",
      "chatReceived",
      "chatAcknowledged",
      "identityChanged",
      "peerConnectionStateChanged",
      "connectionQualityChanged",
      "error",
      "ended",
    ])
      room.on(type, record);
    room.on(
      "connectionStateChanged",
      (e) => (document.getElementById("state").textContent = e.state),
    );
    room.on("chatReceived", (e) => this.chats.push({ from: e.from, text: e.text }));
    room.on("chatAcknowledged", (e) => this.acked.add(e.messageId));
    room.on("trackSubscribed", (e) => {
      if (e.track.kind !== "video") return;
      const v = document.createElement("video");
      v.autoplay = true;
      v.muted = true;
      v.playsInline = true;
      v.srcObject = new MediaStream([e.track]);
      v.dataset.source = e.source;
      document.getElementById("videos").append(v);
      this.videos.set(e.trackId, v);
    });
    room.on("trackUnsubscribed", (e) => {
      this.videos.get(e.trackId)?.remove();
      this.videos.delete(e.trackId);
    });
    await room.connect({ url, token });
    return room.state;
  },
  async publishCamera() {
    const s = await navigator.mediaDevices.getUserMedia({
      video: true,
      audio: true,
    });
    this.local.camera = s.getVideoTracks()[0];
    this.local.microphone = s.getAudioTracks()[0];
    await this.room.publishTrack(this.local.camera, "camera");
    await this.room.publishTrack(this.local.microphone, "microphone");
  },
  /** A device switch: a new camera track replaces the published one. */
  async switchCamera() {
    const s = await navigator.mediaDevices.getUserMedia({
      video: { width: 320, height: 240 },
    });
    const next = s.getVideoTracks()[0];
    await this.room.replaceTrack(this.local.camera, next);
    this.local.camera.stop();
    this.local.camera = next;
    return next.id;
  },
  async publishScreen() {
    const s = await Promise.race([
      navigator.mediaDevices.getDisplayMedia({ video: true }),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("getDisplayMedia timed out")), 10000),
      ),
    ]);
    this.local.screen = s.getVideoTracks()[0];
    await this.room.publishTrack(this.local.screen, "screen");
    return this.local.screen.id;
  },
  /** Frames decoded per inbound video stream from `peer`, by track identifier. */
  async framesDecoded(peer) {
    const report = await this.room.getStats(peer);
    if (!report) return {};
    const out = {};
    for (const s of report.values()) {
      if (s.type === "inbound-rtp" && s.kind === "video")
        out[s.trackIdentifier ?? s.id] = s.framesDecoded ?? 0;
    }
    return out;
  },
  totalFrames: async (peer) =>
    Object.values(await t.framesDecoded(peer)).reduce((a, b) => a + b, 0),
  async storage() {
    const dump = {
      url: location.href,
      local: { ...localStorage },
      session: { ...sessionStorage },
      idb: [],
    };
    for (const info of await indexedDB.databases()) {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(info.name);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      for (const name of db.objectStoreNames) {
        const all = await new Promise((res, rej) => {
          const r = db.transaction(name).objectStore(name).getAll();
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        dump.idb.push({ db: info.name, store: name, records: all });
      }
      db.close();
    }
    return dump;
  },
  openDevice,
  forgetDevice,
};
window.t = t;
window.ready = true;
