// Where the join token comes from: a clinic link (`#token=…` in the URL
// fragment, which no server sees) or, in dev mode, the hub's /dev/token.

/**
 * Reads a token from the fragment and removes it from the address bar (and
 * from this history entry), so it is not left on screen or in history.
 */
export function tokenFromLink() {
  const hash = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  const token = new URLSearchParams(hash).get("token");
  if (hash) history.replaceState(null, "", location.pathname + location.search);
  return token || null;
}

/** Whether the hub mints dev tokens (dev mode). */
export async function devModeAvailable() {
  try {
    // An empty body: a dev hub answers 400 (bad request), any other 404.
    const r = await fetch("dev/token", { method: "POST", body: "{}", cache: "no-store" });
    return r.status === 400;
  } catch {
    return false;
  }
}

/** Mints a dev token for these claims: {visit, role, sub, name}. */
export async function devToken(claims) {
  const r = await fetch("dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(claims),
    cache: "no-store",
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || typeof body.token !== "string") {
    throw new Error(body.error ?? `the hub answered ${r.status}`);
  }
  return body.token;
}

/** A participant id from a name: `pt-` or `dr-` and a slug. */
export function participantId(role, name) {
  const slug = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  const prefix = role === "provider" ? "dr" : "pt";
  return `${prefix}-${slug || Math.random().toString(36).slice(2, 8)}`;
}

/** The hub's signaling URL, same origin as this page. */
export function signalUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/signal`;
}
