// DOM helpers. Every text goes in through textContent or text nodes, never
// as markup (the page runs under Trusted Types with no policy: names and
// chat from other people cannot inject anything).

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element: `attrs` are attributes (true: present, false/null: absent),
 * `text` sets the text, `on<event>` adds a listener; children are nodes or strings.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v != null) node.setAttribute(k, String(v));
  }
  node.append(...children);
  return node;
}

/** Shows one screen (a `<main class="screen">`) and moves focus to its heading. */
export function show(id) {
  for (const s of document.querySelectorAll("main.screen")) s.hidden = s.id !== id;
  const h = $(id)?.querySelector("h1");
  h?.focus({ preventScroll: false });
}

let pending;
/** Says `text` to screen readers (the polite live region). */
export function announce(text) {
  const a = $("announcer");
  clearTimeout(pending);
  // Emptied first so the same words twice are announced twice.
  a.textContent = "";
  pending = setTimeout(() => {
    a.textContent = text;
  }, 60);
}

/** A toggle button: fixed label, state in aria-pressed. */
export function setPressed(button, pressed) {
  button.setAttribute("aria-pressed", pressed ? "true" : "false");
}

/** Opens a modal dialog; resolves with the value of the button that closed it. */
export function ask(dialog) {
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.showModal();
  });
}

/** Groups of digits as list items (safety numbers). */
export function fillNumber(list, digits) {
  const groups = (digits ?? "").match(/\d{1,5}/g) ?? [];
  list.replaceChildren(...groups.map((g) => el("li", { text: g })));
}
