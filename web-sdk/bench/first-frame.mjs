// Benchmark (not a test): time from a provider's admit to the patient's
// first decoded remote video frame, in Chromium on loopback, over N visits
// (default 20), and the SDK's wasm size gzipped.
//
//   cargo xtask web && cargo build -p bedside-server --bin bedside
//   node web-sdk/bench/first-frame.mjs [visits]
//
// Each visit uses fresh pages in the same two browsers; the clock is the
// machine's (both pages share it), read with performance.timeOrigin + now().

import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  startHub,
  joinWithCamera,
  lobbyShows,
  browser,
  webRoot,
  tempDir,
} from "../test/harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const visits = Number(process.argv[2] ?? 20);

const wasm = readFileSync(join(root, "web-sdk/pkg/bedside_web_bg.wasm"));
const glue = readFileSync(join(root, "web-sdk/pkg/bedside_web.js"));
const gz = (b) => gzipSync(b, { level: 9 }).length;
console.log(
  `wasm: ${wasm.length} bytes, ${gz(wasm)} gzipped (-9); JS glue ${glue.length} bytes, ${gz(glue)} gzipped`,
);

const hub = await startHub({
  dataDir: tempDir("bedside-bench-"),
  web: webRoot(),
});
const dr = await browser("provider", hub);
const pt = await browser("patient", hub);
const times = [];
let failed = 0;
for (let i = 0; i < visits; i++) {
  if (i > 0) await Promise.all([dr.page.reload(), pt.page.reload()]);
  await Promise.all([
    dr.page.waitForFunction(() => window.ready),
    pt.page.waitForFunction(() => window.ready),
  ]);
  const visit = `v-bench-${i}`;
  await joinWithCamera(dr, hub, { visit, sub: "dr-b", name: "Dr B", role: "provider" });
  await joinWithCamera(pt, hub, { visit, sub: `pt-${i}`, name: "P", role: "patient" });
  await lobbyShows(dr, `pt-${i}`);
  // The patient's page stamps its first decoded frame from the provider.
  await pt.eval(() => {
    window.firstFrame = new Promise((res) => {
      window.t.room.on("trackSubscribed", (e) => {
        if (e.source !== "camera") return;
        const v = window.t.videos.get(e.trackId);
        const stamp = () => res(performance.timeOrigin + performance.now());
        if (v && "requestVideoFrameCallback" in v) v.requestVideoFrameCallback(stamp);
        else stamp();
      });
    });
  });
  const t0 = await dr.eval((sub) => {
    const t = performance.timeOrigin + performance.now();
    window.t.room.admit(sub);
    return t;
  }, `pt-${i}`);
  // A visit whose first frame never shows is reported, not waited for forever.
  const t1 = await pt.eval(() =>
    Promise.race([window.firstFrame, new Promise((res) => setTimeout(() => res(null), 15000))]),
  );
  if (t1 === null) {
    failed += 1;
  } else {
    times.push(t1 - t0);
  }
  await Promise.all([dr.eval(() => window.t.room.leave()), pt.eval(() => window.t.room.leave())]);
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
if (failed) console.log(`${failed} visit(s) showed no frame within 15 s`);
console.log(
  `admit -> first decoded remote frame over ${times.length} visits: p50 ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms`,
);
// Shut down, but never hang a benchmark run on teardown.
await Promise.race([
  Promise.all([dr.close(), pt.close()]).then(() => hub.stop()),
  new Promise((res) => setTimeout(res, 10000)),
]);
hub.proc.kill("SIGKILL");
process.exit(0);
