// The chat panel: end-to-end encrypted messages through the SDK, kept in
// this page's memory only (never in browser storage), with each message's
// delivery state: "Sending…" until the hub has stored it, then "Delivered".

import { $, el, announce } from "./ui.js";

const time = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

export class Chat {
  #room;
  #nameOf;
  /** message id → the state element of a message this device sent */
  #mine = new Map();
  /** message ids shown, so a message re-delivered after a resume shows once */
  #shown = new Set();
  #open = false;
  #unread = 0;
  #paused = false;

  constructor(room, nameOf) {
    this.#room = room;
    this.#nameOf = nameOf;
    $("chat-log").replaceChildren();
    $("chat-form").onsubmit = (e) => {
      e.preventDefault();
      this.#send();
    };
    $("chat-text").onkeydown = (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#send();
      }
    };
    $("btn-chat").onclick = () => this.toggle();
    $("chat-close").onclick = () => {
      this.toggle(false);
      $("btn-chat").focus();
    };
  }

  toggle(open = !this.#open) {
    this.#open = open;
    $("chat").hidden = !open;
    $("btn-chat").setAttribute("aria-expanded", String(open));
    if (open) {
      this.#unread = 0;
      this.#badge();
      $("chat-text").focus();
    }
  }

  /** While someone's identity is unconfirmed nothing is sent or shown. */
  pause(paused) {
    this.#paused = paused;
    $("chat-paused").hidden = !paused;
    $("chat-text").disabled = paused;
    $("chat-form").querySelector("button").disabled = paused;
  }

  async #send() {
    const box = $("chat-text");
    const text = box.value.trim();
    if (!text || this.#paused) return;
    const state = el("span", { class: "state" }, "Sending…");
    const item = this.#item("You", text, state, "mine");
    try {
      const id = await this.#room.sendChat(text);
      box.value = "";
      this.#mine.set(id, state);
      this.#shown.add(id);
      item.dataset.id = id;
    } catch {
      state.textContent = "Not sent";
      state.classList.add("failed");
    }
  }

  /** The hub stored one of ours: everyone admitted gets it. */
  acknowledged(id) {
    const state = this.#mine.get(id);
    if (state) {
      state.textContent = "Delivered";
      state.classList.add("done");
    }
  }

  received(e) {
    if (this.#shown.has(e.messageId)) return;
    this.#shown.add(e.messageId);
    const notes = [];
    if (e.verified) notes.push(el("span", { class: "verified" }, "Verified"));
    if (!e.rosterAgrees)
      notes.push(el("span", { class: "warn" }, "Sent to a different group of people"));
    const name = this.#nameOf(e.from);
    this.#item(name, e.text, el("span", { class: "notes" }, ...notes), "theirs");
    if (!this.#open) {
      this.#unread += 1;
      this.#badge();
      announce(`New message from ${name}.`);
    }
  }

  #item(who, text, after, cls) {
    const li = el(
      "li",
      { class: cls },
      el("span", { class: "who" }, who),
      el("time", {}, time.format(new Date())),
      el("p", { class: "text" }, text),
      after,
    );
    const log = $("chat-log");
    log.append(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  #badge() {
    const b = $("chat-unread");
    b.hidden = this.#unread === 0;
    b.textContent = this.#unread ? ` (${this.#unread} new)` : "";
  }

  /** Forgets every message (the visit ended). */
  clear() {
    $("chat-log").replaceChildren();
    $("chat-text").value = "";
    this.#mine.clear();
    this.#shown.clear();
    this.toggle(false);
  }
}
