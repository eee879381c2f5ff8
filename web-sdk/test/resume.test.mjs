// A hub killed with SIGKILL mid-visit and restarted on the same port: both
// browsers resume by themselves, media keeps flowing peer to peer, and a
// chat sent during the outage is delivered exactly once.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startHub,
  joinWithCamera,
  lobbyShows,
  browser,
  until,
  framesRising,
  webRoot,
  tempDir,
} from "./harness.mjs";

const VISIT = "v-browser-resume";
let hub;
let dr;
let pt;
const dataDir = tempDir("bedside-hub-");
const web = webRoot();

before(async () => {
  hub = await startHub({ dataDir, web });
  [dr, pt] = await Promise.all([browser("provider", hub), browser("patient", hub)]);
});

after(async () => {
  await Promise.all([dr?.close(), pt?.close()]);
  await hub?.stop();
});

test("a hub killed mid-visit is resumed by both browsers; a chat sent meanwhile arrives once", async () => {
  await joinWithCamera(dr, hub, { visit: VISIT, sub: "dr-kim", name: "Dr. Kim", role: "provider" });
  await joinWithCamera(pt, hub, { visit: VISIT, sub: "pt-lee", name: "Lee", role: "patient" });
  await lobbyShows(dr, "pt-lee");
  await dr.eval(() => window.t.room.admit("pt-lee"));
  await framesRising(dr, "pt-lee");
  await framesRising(pt, "dr-kim");
  // Both sides' key messages stored: a first chat each way.
  const first = await pt.eval(() => window.t.room.sendChat("before the outage"));
  await until(pt, (id) => window.t.acked.has(id), first, {
    what: "the first ack",
  });
  await until(dr, () => window.t.chats.some((c) => c.text === "before the outage"), null, {
    what: "the first chat",
  });

  await hub.kill9();
  await until(
    pt,
    () =>
      window.t.events.some(
        (e) => e.type === "connectionStateChanged" && e.state === "reconnecting",
      ),
    null,
    { what: "reconnecting" },
  );
  const during = await pt.eval(() => window.t.room.sendChat("sent while the hub was down"));
  // A renegotiation while the hub is down (an ICE restart offer): held,
  // and sent after the resume, not lost.
  await pt.eval(() => window.t.room.networkChanged());
  const reconnects = (p) =>
    p.eval(() => window.t.count("connectionStateChanged", (e) => e.state === "connected"));
  const [drBefore, ptBefore] = [await reconnects(dr), await reconnects(pt)];

  // The provider stays cut off until the patient has resumed alone: the
  // restarted hub lists only the patient as present, so what the patient
  // sends the provider (that offer) must wait for them, and the patient's
  // peer connection to the provider must stay up.
  await dr.context.setOffline(true);
  hub = await startHub({ dataDir, web, port: hub.port });
  const resumed = (p, n) =>
    until(
      p,
      (n) => window.t.count("connectionStateChanged", (e) => e.state === "connected") > n,
      n,
      { what: "resumed", timeout: 60000 },
    );
  await resumed(pt, ptBefore);
  await until(pt, (id) => window.t.acked.has(id), during, {
    what: "the outage chat acknowledged",
    timeout: 60000,
  });
  await framesRising(pt, "dr-kim", "frames while the provider is away from the hub");
  assert.equal(await reconnects(dr), drBefore, "the provider was cut off meanwhile");
  await dr.context.setOffline(false);
  await resumed(dr, drBefore);
  await until(
    dr,
    () => window.t.chats.some((c) => c.text === "sent while the hub was down"),
    null,
    { what: "the outage chat", timeout: 60000 },
  );
  // A marker sent after it: once the marker is in, a duplicate would be too.
  const marker = await pt.eval(() => window.t.room.sendChat("marker"));
  await until(pt, (id) => window.t.acked.has(id), marker, {
    what: "the marker ack",
  });
  await until(dr, () => window.t.chats.some((c) => c.text === "marker"), null, {
    what: "the marker",
  });
  const counts = await dr.eval(() => window.t.chats.map((c) => c.text));
  assert.deepEqual(
    counts.filter((t) => t === "sent while the hub was down").length,
    1,
    `chats: ${counts}`,
  );
  assert.deepEqual(counts.filter((t) => t === "before the outage").length, 1, `chats: ${counts}`);
  // Resumed, not re-joined: nobody went back to the waiting room or ended.
  for (const p of [dr, pt]) {
    assert.equal(await p.eval(() => window.t.count("ended")), 0);
    assert.equal(await p.eval(() => window.t.room.state), "admitted");
  }
  await framesRising(dr, "pt-lee", "frames after the restart");
  await framesRising(pt, "dr-kim", "frames after the restart");
  for (const p of [dr, pt]) {
    const errors = await p.eval(() =>
      window.t.events.filter((e) => e.type === "error").map((e) => e.error),
    );
    assert.deepEqual(errors, [], `${p.name}: errors around the outage`);
  }
});
