// The video tiles: this device's, one per other participant (video, a
// hidden <audio> for their microphone, a connection-quality badge), and
// one per shared screen.

import { $, el } from "./ui.js";
import { caption } from "./text.js";
import { routeTo, saved } from "./devices.js";

const QUALITY_TEXT = {
  excellent: "excellent",
  good: "good",
  fair: "fair",
  poor: "weak",
  lost: "lost",
};
const BARS = { excellent: 4, good: 3, fair: 2, poor: 1, lost: 0 };

export class Tiles {
  /** participant id → {figure, video, audio, quality, menu} */
  #people = new Map();
  /** track id → {figure, video, participant} for shared screens */
  #screens = new Map();
  #self;
  #actions;

  /**
   * `actions`: {security(id), stopShare(id), remove(id), isProvider()}: what
   * the per-person menu offers.
   */
  constructor(actions) {
    this.#actions = actions;
  }

  /** This device's tile; `micOff` shows "Microphone off" on it. */
  showSelf(me, track, micOff = false) {
    if (!this.#self) {
      const video = el("video", {
        class: "mirror",
        "aria-label": "Your video",
        autoplay: true,
        muted: true,
        playsinline: true,
      });
      video.muted = true;
      const off = el("p", { class: "placeholder", hidden: true }, "Camera off");
      const muted = el("span", { class: "muted-badge", hidden: true }, "Microphone off");
      const figure = el(
        "figure",
        { class: "tile self" },
        video,
        off,
        el("figcaption", {}, el("span", {}, `${me.name} (you)`), muted),
      );
      this.#self = { figure, video, off, muted };
      $("tiles").append(figure);
    }
    const { video, off, muted } = this.#self;
    muted.hidden = !micOff;
    if (video.srcObject?.getTracks()[0] !== track)
      video.srcObject = track ? new MediaStream([track]) : null;
    off.hidden = !!track;
  }

  /** Someone's tile (made on first sight). */
  person(p) {
    let t = this.#people.get(p.id);
    if (t) {
      t.name.textContent = caption(p);
      return t;
    }
    const video = el("video", {
      "aria-label": `Video of ${p.name}`,
      autoplay: true,
      playsinline: true,
      "data-participant": p.id,
    });
    video.muted = true; // sound plays from the <audio> element
    const audio = el("audio", { autoplay: true, hidden: true });
    routeTo(audio, saved().speaker);
    const waitingVideo = el("p", { class: "placeholder" }, "Camera off");
    const status = el("p", { class: "overlay", hidden: true });
    const bars = el("span", { class: "bars", "aria-hidden": "true" });
    const quality = el(
      "span",
      { class: "quality", role: "img", "aria-label": "Connection: connecting" },
      bars,
    );
    const qualityText = el("span", { class: "quality-text", "aria-hidden": "true", hidden: true });
    const name = el("span", { class: "name" }, caption(p));
    const menu = this.#menu(p);
    const figure = el(
      "figure",
      { class: "tile", "data-participant": p.id },
      video,
      waitingVideo,
      status,
      audio,
      el("figcaption", {}, name, quality, qualityText, menu),
    );
    t = { figure, video, audio, quality, qualityText, bars, status, name, waitingVideo, menu, p };
    this.#people.set(p.id, t);
    $("tiles").append(figure);
    return t;
  }

  #menu(p) {
    const a = this.#actions;
    const items = [
      el(
        "button",
        { type: "button", onclick: () => a.security(p.id) },
        `Check security with ${p.name}`,
      ),
    ];
    if (a.isProvider()) {
      const stop = el(
        "button",
        { type: "button", class: "stop-share", hidden: true, onclick: () => a.stopShare(p.id) },
        `Stop ${p.name}'s screen sharing`,
      );
      items.push(stop);
      items.push(
        el(
          "button",
          { type: "button", class: "danger", onclick: () => a.remove(p.id) },
          `Remove ${p.name}`,
        ),
      );
    }
    const details = el(
      "details",
      { class: "more" },
      el("summary", {}, "More", el("span", { class: "sr-only" }, ` for ${p.name}`)),
      el("div", { class: "menu" }, ...items),
    );
    // A chosen item closes the menu, as does Escape.
    for (const b of items) b.addEventListener("click", () => (details.open = false));
    details.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && details.open) {
        details.open = false;
        details.querySelector("summary").focus();
      }
    });
    return details;
  }

  /** A remote track arrived for an announced source. */
  attach(p, trackId, source, track) {
    if (source === "screen") {
      const video = el("video", {
        "aria-label": `Screen shared by ${p.name}`,
        autoplay: true,
        playsinline: true,
        "data-screen": p.id,
      });
      video.muted = true;
      video.srcObject = new MediaStream([track]);
      const figure = el(
        "figure",
        { class: "tile screen" },
        video,
        el("figcaption", {}, `Screen shared by ${p.name}`),
      );
      this.#screens.get(trackId)?.figure.remove();
      this.#screens.set(trackId, { figure, video, participant: p.id });
      $("tiles").prepend(figure);
      this.#stopShareButton(p.id);
      return;
    }
    const t = this.person(p);
    if (source === "microphone") {
      t.audio.srcObject = new MediaStream([track]);
      t.audio.play().catch(() => {});
      t.audioTrack = trackId;
    } else {
      t.video.srcObject = new MediaStream([track]);
      t.videoTrack = trackId;
      t.waitingVideo.hidden = true;
    }
  }

  /** A remote track went away (unpublished, or its announcement withdrawn). */
  detach(participant, trackId) {
    const s = this.#screens.get(trackId);
    if (s) {
      s.video.srcObject = null;
      s.figure.remove();
      this.#screens.delete(trackId);
      this.#stopShareButton(participant);
      return;
    }
    const t = this.#people.get(participant);
    if (!t) return;
    if (t.audioTrack === trackId) {
      t.audio.srcObject = null;
      t.audioTrack = undefined;
    }
    if (t.videoTrack === trackId) {
      t.video.srcObject = null;
      t.videoTrack = undefined;
      t.waitingVideo.hidden = false;
    }
  }

  /** Whether `participant` shares a screen now. */
  sharing(participant) {
    return [...this.#screens.values()].some((s) => s.participant === participant);
  }

  #stopShareButton(participant) {
    const b = this.#people.get(participant)?.menu.querySelector(".stop-share");
    if (b) b.hidden = !this.sharing(participant);
  }

  quality(participant, quality) {
    const t = this.#people.get(participant);
    if (!t) return;
    t.quality.setAttribute("aria-label", `Connection: ${QUALITY_TEXT[quality] ?? quality}`);
    t.bars.dataset.level = String(BARS[quality] ?? 0);
    // Words when it matters: a weak or lost connection is said, not only drawn.
    const weak = quality === "poor" || quality === "lost";
    t.qualityText.textContent = weak ? `Connection ${QUALITY_TEXT[quality]}` : "";
    t.qualityText.hidden = !weak;
  }

  /** A note over someone's video ("Reconnecting video…"), or none. */
  overlay(participant, text) {
    const t = this.#people.get(participant);
    if (!t) return;
    t.status.hidden = !text;
    t.status.textContent = text ?? "";
  }

  /** Stops rendering someone's media (identity check pending) without removing the tile. */
  pause(participant, paused) {
    const t = this.#people.get(participant);
    if (!t) return;
    t.figure.classList.toggle("paused", paused);
    t.video.hidden = paused;
    t.audio.muted = paused;
    this.overlay(participant, paused ? "Paused until the security check is done" : null);
  }

  remove(participant) {
    this.#people.get(participant)?.figure.remove();
    this.#people.delete(participant);
    for (const [id, s] of this.#screens) {
      if (s.participant === participant) {
        s.figure.remove();
        this.#screens.delete(id);
      }
    }
  }

  /** Plays everyone's sound on this speaker. */
  setSpeaker(id) {
    for (const t of this.#people.values()) routeTo(t.audio, id);
  }

  /** Everyone with a tile. */
  ids() {
    return [...this.#people.keys()];
  }

  clear() {
    for (const t of this.#people.values()) {
      t.video.srcObject = null;
      t.audio.srcObject = null;
    }
    this.#people.clear();
    this.#screens.clear();
    this.#self = undefined;
    $("tiles").replaceChildren();
  }
}
