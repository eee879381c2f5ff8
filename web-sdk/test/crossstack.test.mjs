// Cross-stack: a provider in Chromium on the JS package and a patient on
// the native SDK (webrtc-rs, the `visit` example) complete admission,
// media and end-to-end chat through the real hub.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  startHub,
  joinWithCamera,
  lobbyShows,
  browser,
  until,
  webRoot,
  tempDir,
} from "./harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const NATIVE = process.env.BEDSIDE_VISIT_EXAMPLE ?? join(root, "target/debug/examples/visit");
const VISIT = "v-cross-stack";

let hub;
let dr;
let native;
const lines = [];
const waiters = [];

function nativeLine(re, what, timeout = 30000) {
  const hit = lines.find((l) => re.test(l));
  if (hit) return Promise.resolve(hit);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`native: timed out waiting for ${what}; output:\n${lines.join("\n")}`)),
      timeout,
    );
    waiters.push({ re, done: (l) => (clearTimeout(timer), resolvePromise(l)) });
  });
}

before(async () => {
  hub = await startHub({ dataDir: tempDir("bedside-hub-"), web: webRoot() });
  dr = await browser("provider", hub);
});

after(async () => {
  native?.kill("SIGKILL");
  await dr?.close();
  await hub?.stop();
});

test("a browser provider and a native patient hold a visit", async () => {
  const { state } = await joinWithCamera(dr, hub, {
    visit: VISIT,
    sub: "dr-web",
    name: "Dr. Web",
    role: "provider",
  });
  assert.equal(state, "admitted");

  native = spawn(
    NATIVE,
    [
      "--hub",
      hub.http,
      "--visit",
      VISIT,
      "--role",
      "patient",
      "--sub",
      "pt-native",
      "--media-udp",
      "127.0.0.1:0",
    ],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  createInterface({ input: native.stdout }).on("line", (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w.re.test(l) ? w.done(l) : waiters.push(w);
  });
  await nativeLine(/waiting room/, "the waiting room");
  await lobbyShows(dr, "pt-native");
  await dr.eval(() => window.t.room.admit("pt-native"));
  await nativeLine(/\* admitted/, "admission");

  // Media: the browser's camera and microphone reach the native peer.
  await until(
    dr,
    () =>
      window.t.events.some(
        (e) =>
          e.type === "peerConnectionStateChanged" &&
          e.participant === "pt-native" &&
          e.state === "connected",
      ),
    null,
    { what: "the browser's connection to the native peer" },
  );
  await nativeLine(/media with dr-web: connected/, "the native peer connected");
  await nativeLine(/Camera from dr-web: 100 packets/, "100 camera packets");
  await nativeLine(/Microphone from dr-web: 100 packets/, "100 microphone packets");

  // Chat both ways, end to end.
  const id = await dr.eval(() => window.t.room.sendChat("Hello from the browser"));
  await until(dr, (id) => window.t.acked.has(id), id, { what: "the ack" });
  await nativeLine(/dr-web: Hello from the browser/, "the browser's chat");
  native.stdin.write("Hello from the native app\n");
  await until(
    dr,
    () =>
      window.t.chats.some((c) => c.from === "pt-native" && c.text === "Hello from the native app"),
    null,
    { what: "the native chat" },
  );
});
