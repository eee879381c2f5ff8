// "Settings" during the visit: switch camera, microphone or speaker without
// leaving. A new camera or microphone goes to the peers with replaceTrack
// (no renegotiation); a busy one keeps the device in use.

import { $, ask } from "./ui.js";
import * as devices from "./devices.js";
import * as audio from "./audio.js";
import { fill } from "./precheck.js";

export class Settings {
  #local;
  #tiles;

  constructor(local, tiles) {
    this.#local = local;
    this.#tiles = tiles;
    $("btn-settings").onclick = () => this.open();
    $("set-camera").onchange = (e) => this.#pick("video", e.target.value);
    $("set-mic").onchange = (e) => this.#pick("audio", e.target.value);
    $("set-speaker").onchange = (e) => {
      devices.remember("speaker", e.target.value);
      audio.setSpeaker(e.target.value);
      this.#tiles.setSpeaker(e.target.value);
    };
  }

  async open() {
    $("set-note").hidden = true;
    await this.#refresh();
    await ask($("dlg-settings"));
  }

  async #refresh() {
    const local = this.#local;
    const { cameras, mics, speakers } = await devices.list().catch(() => ({
      cameras: [],
      mics: [],
      speakers: [],
    }));
    const saved = devices.saved();
    fill($("set-camera"), cameras, devices.deviceOf(local.camera) ?? saved.camera, "Camera");
    fill($("set-mic"), mics, devices.deviceOf(local.mic) ?? saved.mic, "Microphone");
    const pickSpeaker = devices.canPickSpeaker && speakers.length > 0;
    $("set-speaker-row").hidden = !pickSpeaker;
    if (pickSpeaker) fill($("set-speaker"), speakers, saved.speaker, "Speaker");
  }

  async #pick(kind, id) {
    const local = this.#local;
    const noun = kind === "video" ? "camera" : "microphone";
    let note = null;
    if (kind === "video" && (local.cameraOff || !local.camera)) {
      // The camera is off: remembered for when it is turned on.
      devices.remember("camera", id);
    } else {
      try {
        await local.switchTo(kind, id);
      } catch (e) {
        const kept = kind === "video" ? local.camera : local.mic;
        note = kept
          ? `That ${noun} is being used by another app, so we kept the one you had.`
          : `We couldn't start that ${noun}. Try another one.`;
      }
    }
    $("set-note").hidden = !note;
    $("set-note").textContent = note ?? "";
    await this.#refresh();
  }
}
