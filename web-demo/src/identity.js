// Safety numbers: the "Check security" dialog, "Mark as verified", and the
// blocking dialog when someone's identity key changes (their chat and
// media are held back until this person accepts the new key).

import { $, ask, fillNumber } from "./ui.js";
import { identityChangedText } from "./text.js";

export class Identity {
  #room;
  #nameOf;
  /** participants whose new identity waits for acceptance */
  blocked = new Set();
  #verified = new Set();
  #queue = Promise.resolve();

  /** `onBlockChange(id, blocked)` runs when a block starts or lifts. */
  constructor(room, nameOf, onBlockChange, onLeave) {
    this.#room = room;
    this.#nameOf = nameOf;
    this.onBlockChange = onBlockChange;
    this.onLeave = onLeave;
  }

  /** The "Check security with …" dialog. */
  async check(id) {
    const name = this.#nameOf(id);
    const number = this.#room.safetyNumber(id);
    $("dlg-safety-h").textContent = `Check security with ${name}`;
    fillNumber($("safety-number"), number);
    const verified = this.#verified.has(id);
    $("safety-verified").hidden = !verified;
    $("safety-verify").hidden = verified || !number;
    $("safety-help").textContent = number
      ? "Read these numbers to each other on the phone or in person. If they are the same, choose Mark as verified."
      : `${name}'s security code has not arrived yet. Try again in a moment.`;
    if ((await ask($("dlg-safety"))) === "verify") {
      await this.#room.markVerified(id);
      this.#verified.add(id);
    }
  }

  /** Someone's key changed: block them until this person accepts. */
  changed(id, safetyNumber) {
    this.blocked.add(id);
    this.#verified.delete(id);
    this.onBlockChange(id, true);
    // One dialog at a time.
    this.#queue = this.#queue.then(() => this.#askAccept(id, safetyNumber));
  }

  async #askAccept(id, safetyNumber) {
    if (!this.blocked.has(id)) return;
    const name = this.#nameOf(id);
    $("identity-text").textContent = identityChangedText(name);
    fillNumber($("identity-number"), safetyNumber);
    const dlg = $("dlg-identity");
    // Not dismissed by Escape: a choice is needed.
    const noEscape = (e) => e.preventDefault();
    dlg.addEventListener("cancel", noEscape);
    const answer = await ask(dlg);
    dlg.removeEventListener("cancel", noEscape);
    if (answer === "accept") {
      await this.#room.acceptIdentity(id);
      this.blocked.delete(id);
      this.onBlockChange(id, false);
    } else if (answer === "leave") {
      this.onLeave();
    }
  }
}
