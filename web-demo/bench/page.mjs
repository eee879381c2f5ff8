// Benchmark (not a test) of the web demo in Chromium on loopback:
//   - the page's total transfer, each response gzipped (-9) as a server
//     would send it, and raw;
//   - time to first contentful paint, and to the join form being ready
//     (the SDK's wasm compiled), over N fresh loads (default 20);
//   - time from the provider's click on "Admit" to the patient's first
//     decoded frame of the provider's video, over N visits.
//
//   cargo xtask web && cargo build -p bedside-server --bin bedside
//   node web-demo/bench/page.mjs [runs]

import { gzipSync } from "node:zlib";
import { startHub, tempDir } from "../../web-sdk/test/harness.mjs";
import { DIST, person, fillJoin } from "../test/demo.mjs";

const runs = Number(process.argv[2] ?? 20);
const hub = await startHub({ dataDir: tempDir("bedside-bench-"), web: DIST });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// 1. Transfer: every response of one load of the start page.
{
  const p = await person("weight", hub);
  const sizes = new Map();
  p.page.on("response", async (r) => {
    try {
      const body = await r.body();
      sizes.set(new URL(r.url()).pathname, body);
    } catch {
      // a response without a body (e.g. the WebSocket upgrade)
    }
  });
  await p.page.reload();
  await p.page.waitForFunction(() => document.documentElement.dataset.ready === "true");
  await p.page.waitForTimeout(1000);
  let raw = 0;
  let gz = 0;
  const rows = [];
  for (const [path, body] of [...sizes].sort()) {
    const z = gzipSync(body, { level: 9 }).length;
    raw += body.length;
    gz += z;
    rows.push(`  ${path.padEnd(28)} ${String(body.length).padStart(8)} ${String(z).padStart(8)}`);
  }
  console.log(
    `transfer: ${sizes.size} responses, ${raw} bytes raw, ${gz} bytes gzipped (${(gz / 1024).toFixed(1)} KiB)`,
  );
  console.log(rows.join("\n"));
  await p.close();
}

// 2. First contentful paint, fresh page each time.
{
  const p = await person("paint", hub);
  const fcp = [];
  const ready = [];
  for (let i = 0; i < runs; i++) {
    const page = await p.context.newPage();
    await page.goto(`${hub.http}/`);
    await page.waitForFunction(
      () => performance.getEntriesByName("first-contentful-paint").length > 0,
    );
    await page.waitForFunction(() => performance.getEntriesByName("bedside-ready").length > 0);
    ready.push(
      await page.evaluate(() => performance.getEntriesByName("bedside-ready")[0].startTime),
    );
    fcp.push(
      await page.evaluate(
        () => performance.getEntriesByName("first-contentful-paint")[0].startTime,
      ),
    );
    await page.close();
  }
  console.log(
    `first contentful paint over ${runs} loads: p50 ${pct(fcp, 50).toFixed(0)} ms, p90 ${pct(fcp, 90).toFixed(0)} ms, max ${Math.max(...fcp).toFixed(0)} ms`,
  );
  console.log(
    `join form ready (SDK and wasm loaded) over ${runs} loads: p50 ${pct(ready, 50).toFixed(0)} ms, p90 ${pct(ready, 90).toFixed(0)} ms, max ${Math.max(...ready).toFixed(0)} ms`,
  );
  await p.close();
}

// 3. Admit to the patient's first frame of the provider's video.
{
  const stamp = () => {
    // Stamps the first decoded frame of the first "Video of …" tile.
    new MutationObserver((_, obs) => {
      const v = document.querySelector('video[aria-label^="Video of"]');
      if (!v) return;
      obs.disconnect();
      v.requestVideoFrameCallback(() => {
        window.firstFrameAt = performance.timeOrigin + performance.now();
      });
    }).observe(document, { subtree: true, childList: true });
  };
  const times = [];
  for (let i = 0; i < runs; i++) {
    const [dr, pt] = await Promise.all([
      person(`dr-${i}`, hub),
      person(`pt-${i}`, hub, { init: stamp }),
    ]);
    const visit = `v-bench-${i}`;
    await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit });
    await dr.page.getByRole("button", { name: "Join visit" }).click();
    await fillJoin(pt, { role: "patient", name: "Lee", visit });
    await pt.page.getByRole("button", { name: "Join visit" }).click();
    const admit = dr.page.getByRole("button", { name: "Admit Lee" });
    await admit.waitFor();
    const t0 = await dr.page.evaluate(() => performance.timeOrigin + performance.now());
    await admit.click();
    await pt.page.waitForFunction(() => window.firstFrameAt !== undefined, null, {
      timeout: 30000,
    });
    times.push((await pt.page.evaluate(() => window.firstFrameAt)) - t0);
    await Promise.all([dr.close(), pt.close()]);
  }
  console.log(
    `admit to the patient's first frame over ${runs} visits: p50 ${pct(times, 50).toFixed(0)} ms, p90 ${pct(times, 90).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`,
  );
}
await hub.stop();
