// The pre-call check: camera preview, microphone meter, speaker test, the
// device pickers, and help when a device cannot be opened.

import { $, el, announce } from "./ui.js";
import * as devices from "./devices.js";
import * as audio from "./audio.js";
import { deviceHelp } from "./text.js";

/** Fills a <select> with devices, selecting `current`. */
export function fill(select, list, current, noun, blocked = false) {
  select.replaceChildren(
    ...list.map((d, i) =>
      el(
        "option",
        { value: d.deviceId, selected: d.deviceId === current },
        d.label || `${noun} ${i + 1}`,
      ),
    ),
  );
  select.disabled = list.length === 0;
  if (list.length === 0) {
    const text = blocked ? `${noun} blocked by the browser` : `No ${noun.toLowerCase()} found`;
    select.append(el("option", { value: "" }, text));
  }
}

/** Keeps the pickers in step with the devices and the tracks in use. */
export async function refreshPickers(local) {
  const { cameras, mics, speakers } = await devices.list().catch(() => ({
    cameras: [],
    mics: [],
    speakers: [],
  }));
  const blocked = (e) => e?.name === "NotAllowedError" || e?.name === "SecurityError";
  const cam = devices.deviceOf(local.camera) ?? devices.saved().camera;
  fill($("pick-camera"), cameras, cam, "Camera", blocked(local.errors.video));
  const mic = devices.deviceOf(local.mic) ?? devices.saved().mic;
  fill($("pick-mic"), mics, mic, "Microphone", blocked(local.errors.audio));
  const pickSpeaker = devices.canPickSpeaker && speakers.length > 0;
  $("speaker-row").hidden = !pickSpeaker;
  $("speaker-none").hidden = pickSpeaker;
  if (pickSpeaker) fill($("pick-speaker"), speakers, devices.saved().speaker, "Speaker");
  return { cameras, mics, speakers };
}

export class Precheck {
  #local;
  #stopMeter = () => {};

  constructor(local) {
    this.#local = local;
    local.addEventListener("change", () => this.#render());
    $("pick-camera").addEventListener("change", (e) => this.#pick("video", e.target.value));
    $("pick-mic").addEventListener("change", (e) => this.#pick("audio", e.target.value));
    $("pick-speaker").addEventListener("change", (e) => {
      devices.remember("speaker", e.target.value);
      audio.setSpeaker(e.target.value);
    });
    $("test-sound").addEventListener("click", () => {
      audio.unlock();
      audio.testTone();
      announce("Playing a test sound.");
    });
    $("device-retry").addEventListener("click", () => this.start());
  }

  /** Opens the camera and microphone (each on its own, so one failing keeps the other). */
  async start() {
    const local = this.#local;
    const [cam, mic] = await Promise.allSettled([
      local.camera ? Promise.resolve(false) : local.openCamera(),
      local.mic ? Promise.resolve(false) : local.openMic(),
    ]);
    local.errors.video = cam.status === "rejected" ? cam.reason : null;
    local.errors.audio = mic.status === "rejected" ? mic.reason : null;
    const fellBack =
      (cam.status === "fulfilled" && cam.value) || (mic.status === "fulfilled" && mic.value);
    await refreshPickers(local);
    audio.setSpeaker(devices.saved().speaker);
    this.#render(fellBack);
  }

  async #pick(kind, id) {
    const local = this.#local;
    let note = null;
    try {
      await local.switchTo(kind, id);
      local.errors[kind] = null;
    } catch (e) {
      const kept = kind === "video" ? local.camera : local.mic;
      if (kept && (e?.name === "NotReadableError" || e?.name === "AbortError")) {
        // The old device was reopened: say so, not that nothing works.
        const noun = kind === "video" ? "camera" : "microphone";
        note = `That ${noun} is being used by another app, so we kept the one you had.`;
      } else {
        local.errors[kind] = e;
      }
    }
    await refreshPickers(local);
    this.#render(false, note);
  }

  #render(fellBack = false, note = null) {
    const local = this.#local;
    const preview = $("preview");
    const stream = local.camera ? new MediaStream([local.camera]) : null;
    if (preview.srcObject?.getTracks()[0] !== local.camera) preview.srcObject = stream;
    $("preview-off").hidden = !!local.camera;
    this.#stopMeter();
    this.#stopMeter = audio.meter(local.mic, (v) => {
      $("meter").value = v;
    });
    if (!local.mic) $("meter").value = 0;
    $("meter-row").hidden = !local.mic;
    const blockedCam = ["NotAllowedError", "SecurityError"].includes(local.errors.video?.name);
    $("preview-off").textContent = blockedCam ? "Camera blocked" : "No camera";

    const { video, audio: mic } = local.errors;
    const help = $("device-help");
    let text = null;
    if (video && mic && video.name === mic.name) text = deviceHelp(video, "camera and microphone");
    else if (video) text = deviceHelp(video, "camera");
    else if (mic) text = deviceHelp(mic, "microphone");
    else if (note) text = note;
    else if (fellBack) text = "Your usual camera is busy, so we switched to another one.";
    help.hidden = text === null;
    $("device-retry").hidden = !(video || mic);
    $("device-help-text").textContent = text ?? "";

    const noCam = !local.camera;
    $("join-visit-btn").hidden = noCam;
    $("join-nocam").textContent = local.mic
      ? "Join without camera"
      : "Join without camera or microphone";
  }

  /** Leaves the check: the tracks go on into the visit. */
  done() {
    this.#stopMeter();
    $("preview").srcObject = null;
  }
}
