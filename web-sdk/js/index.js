// @bedside/sdk: the Bedside browser SDK.
//
//   import { Room } from "@bedside/sdk";
//   const room = new Room();
//   room.on("trackSubscribed", ({ track }) => video.srcObject = new MediaStream([track]));
//   await room.connect({ url: "wss://hub.example/v1/signal", token });
//   await room.publishTrack(cameraTrack, "camera");
//
// The session, end-to-end encryption and WebRTC negotiation run in the
// wasm module (the same Rust core as the native SDK); this file gives it
// the shape web teams know: promise-returning calls and typed events.

import init, { connect as wasmConnect } from "./bedside_web.js";
import { openDevice, forgetDevice, Device } from "./device.js";

await init({
  module_or_path: new URL("./bedside_web_bg.wasm", import.meta.url),
});

export { openDevice, forgetDevice, Device };

export class Room {
  #handle = null;
  #listeners = new Map();
  #device = null;
  #state = undefined;
  #me = undefined;
  #ended = undefined;
  #pinsQueued = false;
  /** The pins last written to the device (written again only when they change). */
  #pinsSaved = undefined;

  /** Subscribes to an event; returns the room for chaining. */
  on(type, handler) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(handler);
    return this;
  }

  /** Unsubscribes. */
  off(type, handler) {
    this.#listeners.get(type)?.delete(handler);
    return this;
  }

  /** The next event of this type, as a promise. */
  once(type) {
    return new Promise((resolve) => {
      const h = (e) => {
        this.off(type, h);
        resolve(e);
      };
      this.on(type, h);
    });
  }

  #emit(type, event) {
    for (const h of [...(this.#listeners.get(type) ?? [])]) {
      try {
        h(event);
      } catch (e) {
        // An app handler's exception must not stop the others or the SDK.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  /** This participant (`{id, name, role, perms}`) once welcomed. */
  get localParticipant() {
    return this.#me;
  }

  /** `"waiting"`, `"admitted"`, or undefined before the welcome. */
  get state() {
    return this.#state;
  }

  /** Why the session ended, once it has. */
  get endReason() {
    return this.#ended;
  }

  /**
   * Connects and joins. Resolves once the hub welcomed this participant
   * (waiting or admitted); rejects if the hub refuses before that.
   */
  async connect(options) {
    if (this.#handle) throw new Error("already connected");
    const device = options.device === null ? null : (options.device ?? (await openDevice()));
    this.#device = device;
    const identity = device ? await device.identity() : undefined;
    const pins = device ? await device.pins() : undefined;
    this.#pinsSaved = pins;
    let welcomed;
    let refused;
    const ready = new Promise((resolve, reject) => {
      welcomed = resolve;
      refused = reject;
    });
    const onEvent = (e) => {
      switch (e.type) {
        case "welcome":
          this.#me = e.participant;
          this.#state = e.state;
          welcomed();
          break;
        case "admitted":
          this.#state = "admitted";
          break;
        case "waiting":
          this.#state = "waiting";
          break;
        case "permissionsChanged":
          if (this.#me && e.participant === this.#me.id) this.#me = { ...this.#me, perms: e.perms };
          break;
        case "ended":
          this.#ended = e;
          refused(
            Object.assign(new Error(`the session ended: ${e.reason}`), {
              reason: e.reason,
            }),
          );
          break;
      }
      // A peer's key is pinned when its bundle arrives, which can be with
      // any message (admitted, joined, keys, a chat): check after each.
      this.#savePins();
      this.#emit(e.type, e);
    };
    try {
      this.#handle = await wasmConnect(
        {
          url: options.url,
          token: options.token,
          device: device?.id ?? "browser",
          identity,
          pins,
          media: options.media ?? true,
          iceServers: options.iceServers,
          tokenSource: options.tokenSource,
        },
        onEvent,
      );
    } finally {
      identity?.fill(0);
    }
    await ready;
  }

  #savePins() {
    if (!this.#device || !this.#handle || this.#pinsQueued) return;
    this.#pinsQueued = true;
    queueMicrotask(() => {
      this.#pinsQueued = false;
      try {
        const json = this.#handle?.pins();
        if (json && json !== this.#pinsSaved) {
          this.#pinsSaved = json;
          this.#device.savePins(json).catch(() => {
            this.#pinsSaved = undefined;
          });
        }
      } catch {
        // the session ended meanwhile
      }
    });
  }

  #h() {
    if (!this.#handle) throw new Error("not connected: call connect() first");
    return this.#handle;
  }

  /** Admits a waiting participant (provider). */
  async admit(participant) {
    this.#h().admit(participant);
  }
  /** Denies a waiting participant (provider). */
  async deny(participant, reason) {
    this.#h().deny(participant, reason);
  }
  /** Removes an admitted participant (provider). */
  async remove(participant, reason) {
    this.#h().remove(participant, reason);
  }
  /** Grants a permission (`"screen_share"`). */
  async grant(participant, permission) {
    this.#h().grant(participant, permission);
  }
  /** Revokes a permission; a revoked screen share stops at once. */
  async revoke(participant, permission) {
    this.#h().revoke(participant, permission);
  }
  /** Asks the providers for screen sharing. */
  async requestScreenShare() {
    this.#h().requestScreenShare();
  }
  /** Sends a track as `"camera"`, `"microphone"` or `"screen"`. */
  async publishTrack(track, source) {
    this.#h().publish(track, source);
  }
  /** Stops sending a track; false if it was not published. */
  async unpublishTrack(track) {
    return this.#h().unpublish(track);
  }
  /** Sends `next` instead of `previous` (a device switch), without renegotiating. */
  async replaceTrack(previous, next) {
    this.#h().replaceTrack(previous, next);
  }
  /** Sends an end-to-end encrypted chat message; resolves with its id. */
  async sendChat(text) {
    return this.#h().sendChat(text);
  }
  /** The safety number with a participant, to compare out of band. */
  safetyNumber(participant) {
    return this.#h().safetyNumber(participant) ?? undefined;
  }
  /** Accepts a participant's changed identity after re-verifying it. */
  async acceptIdentity(participant) {
    this.#h().acceptIdentity(participant);
    this.#savePins();
  }
  /** Marks a participant verified (the safety numbers matched). */
  async markVerified(participant) {
    this.#h().markVerified(participant);
    this.#savePins();
  }
  /** Participants present. */
  get participants() {
    return this.#handle ? this.#handle.participants() : [];
  }
  /** `getStats()` of the connection to a participant. */
  async getStats(participant) {
    return (await this.#h().getStats(participant)) ?? undefined;
  }
  /** The network changed (e.g. `online` event): restart ICE. */
  async networkChanged() {
    this.#h().networkChanged();
  }
  /** Leaves the visit. */
  async leave() {
    this.#h().leave();
  }
  /** Ends the visit for everyone (provider). */
  async endVisit() {
    this.#h().endVisit();
  }
}
