// The hub is killed with SIGKILL mid-visit and restarted on the same port:
// both pages show the reconnecting banner, video keeps playing (it is peer
// to peer), the pages resume by themselves, and a chat sent during the
// outage is delivered exactly once.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHub, tempDir } from "../../web-sdk/test/harness.mjs";
import {
  DIST,
  person,
  snap,
  startVisit,
  framesRising,
  sendChat,
  chatShows,
  openChat,
} from "./demo.mjs";

const dataDir = tempDir("bedside-demo-hub-");
let hub;
let dr;
let pt;

before(async () => {
  hub = await startHub({ dataDir, web: DIST });
  [dr, pt] = await Promise.all([person("provider", hub), person("patient", hub)]);
});

after(async () => {
  await Promise.all([dr?.close(), pt?.close()]);
  await hub?.stop();
});

test("a hub killed mid-visit: the banner shows, video keeps playing, the page resumes, the outage chat arrives once", async () => {
  await startVisit(dr, pt, { visit: "v-demo-resume" });
  await sendChat(pt, "before the outage");
  assert.equal(await chatShows(dr, "before the outage"), 1);

  await hub.kill9();
  for (const p of [dr, pt]) await p.page.getByText("Reconnecting…").waitFor();
  // Peer to peer: the video goes on without the hub.
  await framesRising(pt, "Video of Dr. Kim");
  await framesRising(dr, "Video of Lee");
  await openChat(pt);
  await pt.page.getByLabel("Message", { exact: true }).fill("sent while the hub was down");
  await pt.page.getByRole("button", { name: "Send" }).click();
  const during = pt.page
    .getByRole("log", { name: "Chat messages" })
    .getByRole("listitem")
    .filter({ hasText: "sent while the hub was down" });
  await during.getByText("Sending…").waitFor();
  await snap(pt, "20-reconnecting");

  hub = await startHub({ dataDir, web: DIST, port: hub.port });
  for (const p of [dr, pt]) {
    await p.page.getByText("Reconnecting…").waitFor({ state: "hidden", timeout: 60000 });
  }
  await during.getByText("Delivered").waitFor({ timeout: 60000 });
  assert.equal(await chatShows(dr, "sent while the hub was down"), 1);
  // A marker after it: once the marker is in, a duplicate would be too.
  await sendChat(pt, "marker");
  assert.equal(await chatShows(dr, "marker"), 1);
  assert.equal(await chatShows(dr, "sent while the hub was down"), 1, "delivered exactly once");
  assert.equal(await chatShows(dr, "before the outage"), 1, "history kept across the reconnect");
  // Still in the visit, not back in the waiting room.
  assert.equal(
    await pt.page.getByRole("heading", { name: "Waiting for your provider" }).isVisible(),
    false,
  );
  await framesRising(dr, "Video of Lee");
  await framesRising(pt, "Video of Dr. Kim");
  await snap(dr, "21-resumed");
});
