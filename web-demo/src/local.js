// This device's camera and microphone, from the pre-call check through the
// visit: opening with a fallback, switching devices without renegotiating
// (replaceTrack), mute (the track is disabled: nothing is sent) and camera
// off (the camera is closed, so its light goes off, and a still "Camera
// off" picture is sent in its place).

import * as devices from "./devices.js";

/** A 1 fps picture saying "Camera off", sent while the camera is off. */
function cameraOffTrack() {
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext("2d");
  const paint = () => {
    g.fillStyle = "#1f2a33";
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = "#e8eef2";
    g.font = "32px system-ui, sans-serif";
    g.textAlign = "center";
    g.fillText("Camera off", canvas.width / 2, canvas.height / 2 + 10);
  };
  paint();
  const track = canvas.captureStream(1).getVideoTracks()[0];
  // Some browsers only send a canvas frame after a change: repaint slowly.
  const timer = setInterval(paint, 1000);
  track.addEventListener("ended", () => clearInterval(timer));
  const stop = track.stop.bind(track);
  track.stop = () => {
    clearInterval(timer);
    stop();
  };
  return track;
}

export class LocalMedia extends EventTarget {
  /** The open camera track, or null. */
  camera = null;
  /** The open microphone track, or null. */
  mic = null;
  /** The video track the peers get (the camera, or the "Camera off" picture). */
  sentVideo = null;
  /** The room, once joined (tracks are published into it). */
  room = null;
  micMuted = false;
  cameraOff = false;
  /** The last error opening each kind, for the help box. */
  errors = { video: null, audio: null };

  /**
   * Opens the camera (`id`, or the saved one; with `fallback`, another if
   * that one is busy or gone); returns whether another one was used.
   */
  async openCamera(id = devices.saved().camera, fallback = true) {
    const { track, fellBack } = await devices.open("video", id, fallback);
    this.errors.video = null;
    await this.#useCamera(track);
    return fellBack;
  }

  /** Opens the microphone; returns whether another one was used. */
  async openMic(id = devices.saved().mic, fallback = true) {
    const { track, fellBack } = await devices.open("audio", id, fallback);
    this.errors.audio = null;
    const old = this.mic;
    track.enabled = !this.micMuted;
    this.mic = track;
    this.#watch(track, "mic");
    await this.#send(old, track, "microphone");
    old?.stop();
    this.#changed();
    return fellBack;
  }

  async #useCamera(track) {
    const old = this.camera;
    this.camera = track;
    this.#watch(track, "camera");
    if (!this.cameraOff) {
      const was = this.sentVideo;
      this.sentVideo = track;
      await this.#send(was, track, "camera");
      if (was && was !== old) was.stop();
    }
    old?.stop();
    this.#changed();
  }

  /**
   * Switches to another device of `kind` ("video" or "audio"). Opens the
   * new one first; a phone that allows one camera at a time refuses that
   * (NotReadableError): then the old one is closed and the new one tried
   * again, and if it still fails the old one is reopened.
   */
  async switchTo(kind, id) {
    const open = () => (kind === "video" ? this.openCamera(id, false) : this.openMic(id, false));
    try {
      await open();
    } catch (e) {
      if (e?.name !== "NotReadableError") throw e;
      const current = kind === "video" ? this.camera : this.mic;
      const previousId = devices.deviceOf(current);
      current?.stop();
      try {
        await open();
      } catch (again) {
        const reopen = () =>
          kind === "video" ? this.openCamera(previousId, false) : this.openMic(previousId, false);
        const back = previousId
          ? await reopen().then(
              () => true,
              () => false,
            )
          : false;
        if (!back) {
          if (kind === "video") this.camera = null;
          else this.mic = null;
          this.#changed();
        }
        throw again;
      }
    }
    devices.remember(kind === "video" ? "camera" : "mic", id);
  }

  /** Publishes what is open into the room (on joining). */
  async publishInto(room) {
    this.room = room;
    if (this.mic) await this.#send(null, this.mic, "microphone");
    const video = this.cameraOff || !this.camera ? null : this.camera;
    if (video) {
      this.sentVideo = video;
      await this.#send(null, video, "camera");
    }
  }

  setMicMuted(muted) {
    this.micMuted = muted;
    if (this.mic) this.mic.enabled = !muted;
    this.#changed();
  }

  /** Camera off: the camera is closed; the peers see "Camera off". On: reopened. */
  async setCameraOff(off) {
    if (off === this.cameraOff) return;
    if (off) {
      this.cameraOff = true;
      const was = this.sentVideo;
      if (this.room && was && this.#inRoom.has(was)) {
        const still = cameraOffTrack();
        this.sentVideo = still;
        await this.#send(was, still, "camera");
      } else {
        this.sentVideo = null;
      }
      this.camera?.stop();
      this.camera = null;
      this.#changed();
    } else {
      this.cameraOff = false;
      try {
        await this.openCamera();
      } catch (e) {
        this.cameraOff = true;
        throw e;
      }
    }
  }

  /** Stops everything (the visit is over). */
  stop() {
    for (const t of [this.camera, this.mic, this.sentVideo]) t?.stop();
    this.camera = this.mic = this.sentVideo = null;
    this.room = null;
    this.#changed();
  }

  /** Tracks the room sends now (published, or swapped in by replaceTrack). */
  #inRoom = new WeakSet();

  /** Sends `next` in place of `previous` if that is in the room, else publishes it. */
  async #send(previous, next, source) {
    if (!this.room) return;
    if (previous && this.#inRoom.has(previous)) {
      await this.room.replaceTrack(previous, next);
      this.#inRoom.delete(previous);
    } else {
      await this.room.publishTrack(next, source);
    }
    this.#inRoom.add(next);
  }

  #watch(track, which) {
    track.addEventListener(
      "ended",
      () => {
        // The device went away (unplugged, or taken by the system). The SDK
        // has unpublished the track; tell the page, which moves to another device.
        this.#inRoom.delete(track);
        if (this[which] === track) {
          this[which] = null;
          if (which === "camera" && this.sentVideo === track) this.sentVideo = null;
          this.dispatchEvent(new CustomEvent("lost", { detail: which }));
          this.#changed();
        }
      },
      { once: true },
    );
  }

  #changed() {
    this.dispatchEvent(new Event("change"));
  }
}
