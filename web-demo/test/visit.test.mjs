// The whole visit in the web demo, in two Chromium profiles against the
// real hub: the pre-call check, the waiting room, admission, video both
// ways, chat both ways, a screen share asked for, granted and stopped by
// the provider, and the provider ending the visit. Each step is
// screenshotted at desktop and phone size (target/browser-shots/web-demo).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHub, tempDir } from "../../web-sdk/test/harness.mjs";
import {
  DIST,
  person,
  snap,
  fillJoin,
  meterMoves,
  framesRising,
  sendChat,
  chatShows,
  storageDump,
  pressedIs,
  filesHolding,
} from "./demo.mjs";

const VISIT = "v-demo-1";
const dataDir = tempDir("bedside-demo-hub-");
const CHATS = ["Hello doctor, my knee still hurts", "Thanks Lee, let us take a look"];
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

test("a patient and a provider hold a whole visit in the web demo", async () => {
  // The page is served with its security policy.
  const r = await fetch(`${hub.http}/`);
  assert.match(r.headers.get("content-security-policy") ?? "", /trusted-types 'none'/);

  await snap(dr, "01-join");
  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: VISIT });
  await meterMoves(dr);
  await framesRising(dr, "Your camera preview");
  await snap(dr, "02-precheck");
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  await dr.page.getByRole("heading", { name: "Waiting room" }).waitFor();
  await dr.page.getByText("No one is waiting.").waitFor();
  await snap(dr, "03-provider-alone");

  await fillJoin(pt, { role: "patient", name: "Lee", visit: VISIT });
  await meterMoves(pt);
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  await pt.page.getByRole("heading", { name: "Waiting for your provider" }).waitFor();
  await pt.page.getByText("Dr. Kim is here and can see you're waiting.").waitFor();
  await snap(pt, "04-waiting");

  const admit = dr.page.getByRole("button", { name: "Admit Lee" });
  await admit.waitFor();
  assert.match(await dr.page.title(), /^\(1\) Waiting/);
  assert.doesNotMatch(
    await dr.page.title(),
    /Lee/,
    "no names in the title (it is kept in history)",
  );
  await snap(dr, "05-lobby");
  await admit.click();

  await framesRising(pt, "Video of Dr. Kim");
  await framesRising(dr, "Video of Lee");
  assert.equal(await dr.page.title(), "Bedside video visit");
  await snap(pt, "06-visit");
  await snap(dr, "06-visit");

  // Mute: visible state on the button.
  const mute = pt.page.getByRole("button", { name: "Mute microphone" });
  await mute.click();
  assert.equal(await mute.getAttribute("aria-pressed"), "true");
  await mute.click();
  assert.equal(await mute.getAttribute("aria-pressed"), "false");
  // Camera off: the camera closes, the other side gets a still picture.
  const camera = pt.page.getByRole("button", { name: "Turn off camera" });
  await camera.click();
  await pressedIs(camera, "true");
  await pt.page.locator(".tile.self").getByText("Camera off").waitFor();
  await framesRising(dr, "Video of Lee");
  await snap(pt, "06b-camera-off");
  await camera.click();
  await pressedIs(camera, "false");
  await pt.page.locator(".tile.self").getByText("Camera off").waitFor({ state: "hidden" });
  await framesRising(dr, "Video of Lee");

  // Chat both ways, each shown as delivered, shown once on the other side.
  await sendChat(pt, CHATS[0]);
  assert.equal(await chatShows(dr, CHATS[0]), 1);
  await sendChat(dr, CHATS[1]);
  assert.equal(await chatShows(pt, CHATS[1]), 1);
  await snap(pt, "07-chat");
  await snap(dr, "07-chat");

  // The provider compares safety numbers and marks the patient verified.
  await dr.page.getByText("More for Lee").click();
  await dr.page.getByRole("button", { name: "Check security with Lee" }).click();
  const safety = dr.page.getByRole("dialog", { name: "Check security with Lee" });
  assert.equal(await safety.getByRole("listitem").count(), 12, "60 digits in groups of 5");
  await safety.getByRole("button", { name: "Mark as verified" }).click();
  await sendChat(pt, "checking in");
  await dr.page
    .getByRole("log", { name: "Chat messages" })
    .locator("li.theirs")
    .filter({ hasText: "checking in" })
    .getByText("Verified")
    .waitFor();

  // The patient asks to share; the provider allows; the provider sees it.
  await pt.page.getByRole("button", { name: "Ask to share screen" }).click();
  await pt.page.getByRole("button", { name: "Asked, waiting for an answer" }).waitFor();
  await dr.page.getByText("Lee asks to share their screen.").waitFor();
  await snap(dr, "08-share-request");
  await dr.page.getByRole("button", { name: "Allow" }).click();
  await pt.page.getByRole("button", { name: "Share screen" }).click();
  await pt.page.getByText(/You are sharing .* with Dr\. Kim\./).waitFor();
  await framesRising(dr, "Screen shared by Lee");
  await snap(pt, "09-sharing");
  await snap(dr, "09-sharing");

  // The provider stops it: gone on both sides.
  await dr.page.getByText("More for Lee").click();
  await dr.page.getByRole("button", { name: "Stop Lee's screen sharing" }).click();
  await dr.page.getByLabel("Screen shared by Lee").waitFor({ state: "detached" });
  await pt.page.getByRole("region", { name: "Screen sharing" }).waitFor({ state: "hidden" });
  await pt.page.getByRole("button", { name: "Ask to share screen" }).waitFor();
  await snap(pt, "10-share-stopped");

  // The provider ends the visit for everyone.
  await dr.page.getByRole("button", { name: "End visit for everyone" }).click();
  await snap(dr, "11-end-confirm");
  await dr.page.getByRole("button", { name: "End visit", exact: true }).click();
  for (const p of [dr, pt]) {
    await p.page.getByRole("heading", { name: "The visit has ended." }).waitFor();
  }
  await snap(pt, "12-ended");
  for (const p of [dr, pt]) {
    assert.deepEqual(
      p.console.filter((l) => /pageerror|Content Security Policy|Trusted Type/i.test(l)),
      [],
      `${p.name}: no page errors or policy violations`,
    );
  }

  // After the visit: no chat text, names or visit id in the browsers'
  // storage or profile files, and no chat text in the hub's files or logs.
  const personal = [...CHATS, "Dr. Kim", VISIT];
  for (const p of [dr, pt]) {
    const dump = await storageDump(p);
    for (const n of personal)
      assert.ok(!dump.includes(n), `${p.name}: browser storage holds "${n}"`);
    await p.context.close();
    assert.deepEqual(filesHolding(p.profile, personal), [], `${p.name}: the browser profile`);
  }
  await hub.stop();
  assert.deepEqual(filesHolding(dataDir, CHATS), [], "the hub's files");
  for (const n of [...CHATS, "Dr. Kim", "Lee"]) {
    assert.ok(!hub.stderr().includes(n), `the hub's log holds "${n}"`);
  }
});
