// Test harness for the browser SDK: the real hub binary on 127.0.0.1 (a
// free port, or a given one for restarts), dev tokens, and Debian's
// Chromium through playwright-core with fake camera, microphone and screen,
// each participant in its own persistent context.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, symlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
export const BIN = process.env.BEDSIDE_BIN ?? join(root, "target/debug/bedside");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const shots = process.env.BEDSIDE_SHOTS ?? join(root, "target/browser-shots");

/**
 * Temporary directories made by this test process: removed when it exits,
 * so no hub data (participant ids, names, ciphertext) stays behind in /tmp.
 */
const made = [];
process.on("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A web root serving the test page at / and the package at /pkg/. */
export function webRoot() {
  const dir = tempDir("bedside-web-");
  symlinkSync(join(root, "web-sdk/pkg"), join(dir, "pkg"));
  symlinkSync(join(here, "page.html"), join(dir, "index.html"));
  symlinkSync(join(here, "page.js"), join(dir, "page.js"));
  symlinkSync(join(here, "page.css"), join(dir, "page.css"));
  return dir;
}

/** Starts `bedside serve --dev`; resolves with {url, port, proc, kill9()}. */
export function startHub({ dataDir, web, port = 0 }) {
  mkdirSync(dataDir, { recursive: true });
  const proc = spawn(BIN, ["serve", "--dev", "--listen", `127.0.0.1:${port}`], {
    cwd: dataDir,
    env: {
      ...process.env,
      BEDSIDE_WEB_ROOT: web,
      RUST_LOG: process.env.RUST_LOG ?? "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${stderr}`)), 30000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/([0-9.]+):(\d+)/);
      if (m) {
        clearTimeout(timer);
        const port = Number(m[2]);
        resolvePromise({
          proc,
          port,
          http: `http://127.0.0.1:${port}`,
          ws: `ws://127.0.0.1:${port}/v1/signal`,
          stderr: () => stderr,
          kill9: () =>
            new Promise((r) => {
              proc.once("exit", r);
              proc.kill("SIGKILL");
            }),
          stop: () =>
            new Promise((r) => {
              if (proc.exitCode !== null) return r();
              proc.once("exit", r);
              proc.kill("SIGTERM");
            }),
        });
      }
    });
    proc.once("exit", (code) => reject(new Error(`hub exited with ${code}: ${stderr}`)));
  });
}

/** A join token from the dev hub. */
export async function token(hub, claims) {
  const r = await fetch(`${hub.http}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(claims),
  });
  if (!r.ok) throw new Error(`dev token: ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
  // Host candidates as IPs, so a webrtc-rs peer can reach this browser.
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--auto-select-desktop-capture-source=Entire screen",
];

/**
 * A participant's own browser: a persistent context on a fresh profile.
 * `flags` adds Chromium switches, `drop` removes default ones, `init` is
 * a script run in every page before its own, `context` more Playwright
 * context options.
 */
export async function browser(
  name,
  hub,
  {
    ready = () => window.ready === true,
    viewport = { width: 720, height: 560 },
    flags = [],
    drop = [],
    init = null,
    context: contextOptions = {},
  } = {},
) {
  const profile = mkdtempSync(join(tmpdir(), `bedside-chromium-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS.filter((f) => !drop.includes(f)), ...flags],
    viewport,
    ...contextOptions,
  });
  if (init) await context.addInitScript(init);
  const page = context.pages()[0] ?? (await context.newPage());
  const console = [];
  page.on("console", (m) => console.push(m.text()));
  page.on("pageerror", (e) => console.push(`pageerror: ${e.message}`));
  await page.goto(`${hub.http}/`);
  await page.waitForFunction(ready);
  return {
    profile,
    name,
    page,
    console,
    context,
    eval: (fn, arg) => page.evaluate(fn, arg),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Mints a dev token for `claims`, joins in `p`'s page and publishes its
 * fake camera and microphone; resolves with {state, token}.
 */
export async function joinWithCamera(p, hub, claims) {
  const tk = await token(hub, claims);
  const state = await p.eval(([u, t]) => window.t.join(u, t), [hub.ws, tk]);
  await p.eval(() => window.t.publishCamera());
  return { state, token: tk };
}

/** The provider's page lists someone in the lobby (`sub`, or anyone). */
export function lobbyShows(p, sub = null) {
  return until(
    p,
    (sub) =>
      window.t.events.some(
        (e) => e.type === "lobbyChanged" && e.waiting.some((w) => sub === null || w.id === sub),
      ),
    sub,
    { what: `${sub ?? "someone"} in the lobby` },
  );
}

/** Polls `fn` in the page until it returns a truthy value. */
export async function until(p, fn, arg, { timeout = 30000, what = "condition" } = {}) {
  try {
    const handle = await p.page.waitForFunction(fn, arg, {
      timeout,
      polling: 100,
    });
    return handle.jsonValue();
  } catch (e) {
    const events = await p.page.evaluate(() =>
      window.t.events.map(
        (e) => e.type + (e.state ? ":" + e.state : "") + (e.error ? ":" + e.error.message : ""),
      ),
    );
    throw new Error(
      `${p.name}: timed out waiting for ${what}; events: ${events.join(", ")}; console: ${p.console.join(" | ")}`,
    );
  }
}

/** Total decoded video frames from `peer`, rising twice in a row. */
export async function framesRising(p, peer, what = "video frames") {
  let last = 0;
  for (let rises = 0; rises < 2;) {
    const n = await until(
      p,
      async ([peer, last]) => {
        const n = await window.t.totalFrames(peer);
        return n > last ? n : 0;
      },
      [peer, last],
      { what: `${what} from ${peer} rising past ${last}` },
    );
    last = n;
    rises += 1;
  }
  return last;
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
