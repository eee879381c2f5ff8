// Screen sharing: a provider shares at will; a patient asks, a provider
// allows or declines, and may stop the share at any time (the hub then
// withdraws the track on both sides). The browser's own "Stop sharing"
// ends the track, which the SDK unpublishes.

import { $, announce } from "./ui.js";
import * as audio from "./audio.js";

const ASK_AGAIN_MS = 60_000;
const SURFACE = { browser: "a browser tab", window: "a window", monitor: "your entire screen" };

export class Share {
  #room;
  #others;
  #track = null;
  #askedAt = 0;
  #askTimer;
  /** patients asking, in order, for the provider's banner */
  #requests = [];
  #nameOf;

  /** `others()`: names of the other people in the visit, for the sharing bar. */
  constructor(room, nameOf, others) {
    this.#room = room;
    this.#nameOf = nameOf;
    this.#others = others;
    $("btn-share").onclick = () => this.#clicked();
    $("sharing-stop").onclick = () => this.stop();
    $("share-allow").onclick = () => this.#answer(true);
    $("share-decline").onclick = () => this.#answer(false);
    this.render();
  }

  get #allowed() {
    return this.#room.localParticipant?.perms.includes("screen_share") ?? false;
  }

  /** Updates the button to the permission and state. */
  render() {
    const b = $("btn-share");
    if (this.#track) {
      b.textContent = "Stop sharing";
      b.disabled = false;
    } else if (this.#allowed) {
      b.textContent = "Share screen";
      b.disabled = false;
    } else if (Date.now() - this.#askedAt < ASK_AGAIN_MS) {
      b.textContent = "Asked, waiting for an answer";
      b.disabled = true;
    } else {
      b.textContent = "Ask to share screen";
      b.disabled = false;
    }
    this.#renderBar();
  }

  async #clicked() {
    if (this.#track) return this.stop();
    if (this.#allowed) return this.start();
    this.#askedAt = Date.now();
    clearTimeout(this.#askTimer);
    this.#askTimer = setTimeout(() => this.render(), ASK_AGAIN_MS);
    await this.#room.requestScreenShare().catch(() => {});
    announce("You asked to share your screen. Your provider will answer.");
    this.render();
  }

  /** Picks a tab or window (offered before the whole screen) and shares it. */
  async start() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { displaySurface: "window" },
        audio: false,
        preferCurrentTab: false,
        selfBrowserSurface: "exclude",
        surfaceSwitching: "include",
        systemAudio: "exclude",
      });
    } catch {
      // The person closed the picker: nothing to say.
      return;
    }
    const track = stream.getVideoTracks()[0];
    track.contentHint = "detail";
    track.addEventListener("ended", () => this.#ended(track), { once: true });
    this.#track = track;
    try {
      await this.#room.publishTrack(track, "screen");
    } catch {
      track.stop();
      this.#track = null;
      announce("Your screen could not be shared.");
    }
    this.render();
  }

  /** Stops sharing (the button or the bar). */
  async stop() {
    const t = this.#track;
    if (!t) return;
    this.#track = null;
    await this.#room.unpublishTrack(t).catch(() => {});
    t.stop();
    announce("You stopped sharing your screen.");
    this.render();
  }

  /** The browser's own "Stop sharing": the SDK has unpublished it. */
  #ended(track) {
    if (this.#track !== track) return;
    this.#track = null;
    announce("You stopped sharing your screen.");
    this.render();
  }

  /** The hub withdrew our screen (the provider stopped it, or took the permission back). */
  withdrawn(track) {
    if (this.#track && this.#track !== track) return;
    this.#track?.stop();
    this.#track = null;
    announce("Your provider stopped your screen sharing.");
    this.render();
  }

  /** Our permissions changed. */
  permissions(perms, before) {
    const now = perms.includes("screen_share");
    if (now && !before) {
      this.#askedAt = 0;
      announce("Your provider allowed screen sharing. Choose Share screen when ready.");
    }
    this.render();
  }

  /** A patient asks (provider). */
  requested(participant) {
    if (!this.#requests.includes(participant)) {
      this.#requests.push(participant);
      audio.chime();
    }
    this.#renderRequest();
  }

  /** Someone left: their request is void. */
  gone(participant) {
    this.#requests = this.#requests.filter((p) => p !== participant);
    this.#renderRequest();
    this.#renderBar();
  }

  #renderRequest() {
    const first = this.#requests[0];
    $("share-request").hidden = !first;
    if (first)
      $("share-request-text").textContent = `${this.#nameOf(first)} asks to share their screen.`;
  }

  async #answer(allow) {
    const who = this.#requests.shift();
    this.#renderRequest();
    if (!who) return;
    if (allow) await this.#room.grant(who, "screen_share").catch(() => {});
    announce(allow ? `${this.#nameOf(who)} may share their screen.` : "Request declined.");
  }

  #renderBar() {
    const t = this.#track;
    $("sharing-bar").hidden = !t;
    if (!t) return;
    const surface = SURFACE[t.getSettings?.().displaySurface] ?? "your screen";
    const names = this.#others();
    const whom = names.length ? names.join(", ") : "the visit";
    $("sharing-text").textContent = `You are sharing ${surface} with ${whom}.`;
  }

  /** Ends any share (the visit ended). */
  end() {
    this.#track?.stop();
    this.#track = null;
    this.#requests = [];
    clearTimeout(this.#askTimer);
  }
}
