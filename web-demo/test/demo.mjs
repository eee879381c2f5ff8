// Driving the web demo the way a person does: by visible labels and roles.
// Shared by the demo's browser tests (the hub and Chromium come from the
// SDK's harness).

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { browser as sdkBrowser, shots } from "../../web-sdk/test/harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
/** The demo as `cargo xtask web` assembles it. */
export const DIST = resolve(here, "../dist");

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 667 };

/** A person's own browser on the demo's start page. */
export function person(name, hub, opts = {}) {
  return sdkBrowser(name, hub, {
    ready: () => document.documentElement.dataset.ready === "true",
    viewport: DESKTOP,
    ...opts,
  });
}

/** Saves a screenshot of `p`'s page at desktop and at phone size. */
export async function snap(p, step) {
  const dir = join(shots, "web-demo");
  mkdirSync(dir, { recursive: true });
  const size = p.page.viewportSize();
  await p.page.screenshot({ path: join(dir, `${step}-${p.name}-desktop.png`) });
  await p.page.setViewportSize(PHONE);
  await p.page.screenshot({ path: join(dir, `${step}-${p.name}-phone.png`) });
  await p.page.setViewportSize(size ?? DESKTOP);
}

/** Fills the dev join form and continues to the pre-call check. */
export async function fillJoin(p, { role, name, visit, sub }) {
  const page = p.page;
  await page.getByRole("heading", { name: "Join your video visit" }).waitFor();
  await page.getByLabel(role === "provider" ? "Provider" : "Patient", { exact: true }).check();
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Visit code").fill(visit);
  if (sub) {
    await page.getByText("More options").click();
    await page.getByLabel("Participant ID").fill(sub);
  }
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Check your camera and sound" }).waitFor();
}

/** The microphone meter moved (the fake microphone beeps). */
export async function meterMoves(p) {
  const meter = p.page.getByRole("meter", { name: "Microphone level" });
  await p.page.waitForFunction((m) => m.value > 0, await meter.elementHandle(), {
    timeout: 15000,
  });
}

/** Decoded frames of a <video> found by its label, rising twice. */
export async function framesRising(p, label, { timeout = 30000 } = {}) {
  const video = p.page.getByLabel(label, { exact: true });
  await video.waitFor({ timeout });
  const frames = () => video.evaluate((v) => v.getVideoPlaybackQuality().totalVideoFrames);
  let last = await frames();
  const deadline = Date.now() + timeout;
  for (let rises = 0; rises < 2;) {
    if (Date.now() > deadline) {
      throw new Error(
        `${p.name}: frames of "${label}" stuck at ${last}; console: ${p.console.join(" | ")}`,
      );
    }
    await p.page.waitForTimeout(250);
    const n = await frames();
    if (n > last) {
      rises += 1;
      last = n;
    }
  }
  return last;
}

/** Waits until a toggle button's aria-pressed is `value` ("true"/"false"). */
export async function pressedIs(button, value) {
  const handle = await button.elementHandle();
  await handle.evaluate(
    (b, v) =>
      new Promise((ok) => {
        const check = () => b.getAttribute("aria-pressed") === v && ok(true);
        if (!check()) new MutationObserver(check).observe(b, { attributes: true });
      }),
    value,
  );
}

/** Opens the chat panel if it is closed. */
export async function openChat(p) {
  const b = p.page.getByRole("button", { name: /^Chat/ });
  if ((await b.getAttribute("aria-expanded")) !== "true") await b.click();
}

/** Sends a chat message and waits for it to be shown as delivered. */
export async function sendChat(p, text) {
  await openChat(p);
  await p.page.getByLabel("Message", { exact: true }).fill(text);
  await p.page.getByRole("button", { name: "Send" }).click();
  const item = p.page
    .getByRole("log", { name: "Chat messages" })
    .getByRole("listitem")
    .filter({ hasText: text });
  await item.getByText("Delivered").waitFor();
}

/** The chat log holds `text` from someone else, `n` times. */
export async function chatShows(p, text) {
  await openChat(p);
  const item = p.page
    .getByRole("log", { name: "Chat messages" })
    .locator("li.theirs")
    .filter({ hasText: text });
  await item.first().waitFor();
  return item.count();
}

/** Provider and patient join through the pre-call check; the provider admits. */
export async function startVisit(dr, pt, { visit, drName = "Dr. Kim", ptName = "Lee" }) {
  await fillJoin(dr, { role: "provider", name: drName, visit });
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  await dr.page.getByRole("heading", { name: "Waiting room" }).waitFor();
  await fillJoin(pt, { role: "patient", name: ptName, visit });
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  await pt.page.getByRole("heading", { name: "Waiting for your provider" }).waitFor();
  await dr.page.getByRole("button", { name: `Admit ${ptName}` }).click();
  await framesRising(pt, `Video of ${drName}`);
  await framesRising(dr, `Video of ${ptName}`);
}

/**
 * Everything the page's origin keeps in the browser (local and session
 * storage, cookies, every IndexedDB record, cache names) as one string;
 * binary values are shown as their length.
 */
export function storageDump(p) {
  return p.page.evaluate(async () => {
    const out = {
      local: { ...localStorage },
      session: { ...sessionStorage },
      cookies: document.cookie,
      caches: await caches.keys(),
      idb: [],
    };
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((ok, fail) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => fail(r.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((ok, fail) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => ok(r.result);
          r.onerror = () => fail(r.error);
        });
        out.idb.push({ db: name, store, records: all });
      }
      db.close();
    }
    return JSON.stringify(out, (k, v) =>
      v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? `[${v.byteLength} bytes]` : v,
    );
  });
}

/** Files under `dir` holding any of `needles` (as UTF-8 or UTF-16), as "file: needle". */
export function filesHolding(dir, needles) {
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) {
        const bytes = readFileSync(path);
        for (const n of needles) {
          if (bytes.includes(Buffer.from(n, "utf8")) || bytes.includes(Buffer.from(n, "utf16le"))) {
            found.push(`${path.slice(dir.length + 1)}: ${n}`);
          }
        }
      }
    }
  };
  walk(dir);
  return found;
}
