// The provider's waiting room: who waits, admit or deny, a chime and a
// count in the tab title when someone new arrives. Names never go in the
// title (titles are kept in the browser's history).

import { $, el, ask, announce } from "./ui.js";
import * as audio from "./audio.js";

const BASE_TITLE = "Bedside video visit";
const SEEN_MS = 30_000;
const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

export class Lobby {
  #room;
  /** id → when last seen in the list (a brief drop is not a new arrival). */
  #seen = new Map();
  /** id → when they arrived. */
  #since = new Map();
  waiting = [];

  constructor(room) {
    this.#room = room;
    $("lobby").hidden = false;
  }

  update(waiting) {
    const now = Date.now();
    const arrived = waiting.filter((w) => !(now - (this.#seen.get(w.id) ?? -Infinity) < SEEN_MS));
    for (const w of waiting) {
      if (arrived.includes(w)) this.#since.set(w.id, now);
      this.#seen.set(w.id, now);
    }
    this.waiting = waiting;
    const list = $("lobby-list");
    list.replaceChildren(
      ...waiting.map((w) =>
        el(
          "li",
          {},
          el(
            "span",
            { class: "who" },
            `${w.name}, ${w.role}`,
            el(
              "span",
              { class: "since" },
              ` · waiting since ${clock.format(this.#since.get(w.id))}`,
            ),
          ),
          el(
            "button",
            { type: "button", class: "primary", onclick: () => this.#admit(w) },
            `Admit ${w.name}`,
          ),
          el("button", { type: "button", onclick: () => this.#deny(w) }, `Deny ${w.name}`),
        ),
      ),
    );
    $("lobby-empty").hidden = waiting.length > 0;
    $("lobby-h").textContent = waiting.length ? `Waiting room (${waiting.length})` : "Waiting room";
    $("lobby").classList.toggle("busy", waiting.length > 0);
    document.title = waiting.length ? `(${waiting.length}) Waiting – Bedside` : BASE_TITLE;
    if (arrived.length) {
      if ($("lobby-chime").checked) audio.chime();
      announce(
        arrived.length === 1
          ? `${arrived[0].name} is waiting to join.`
          : `${arrived.length} people are waiting to join.`,
      );
    }
  }

  async #admit(w) {
    await this.#room.admit(w.id).catch(() => {});
  }

  async #deny(w) {
    const dlg = $("dlg-deny");
    $("dlg-deny-h").textContent = `Deny ${w.name}?`;
    $("deny-reason").value = "";
    if ((await ask(dlg)) !== "deny") return;
    const reason = $("deny-reason").value.trim() || undefined;
    await this.#room.deny(w.id, reason).catch(() => {});
  }

  stop() {
    document.title = BASE_TITLE;
  }
}
