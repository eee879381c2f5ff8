// What goes wrong around a visit, seen the way a person meets it: a second
// tab of the same patient, a patient the provider declines, a camera that
// another app holds, and a browser that blocks the camera and microphone.

import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startHub, tempDir, token } from "../../web-sdk/test/harness.mjs";
import {
  DIST,
  person,
  snap,
  fillJoin,
  startVisit,
  framesRising,
  sendChat,
  chatShows,
} from "./demo.mjs";

let hub;
const open = [];

before(async () => {
  hub = await startHub({ dataDir: tempDir("bedside-demo-hub-"), web: DIST });
});

// Each test's browsers go when it ends: a visit left running would keep
// encoding video and starve the next test's on two cores.
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

after(async () => {
  await hub?.stop();
});

async function people(...names) {
  const ps = await Promise.all(names.map((n) => person(n, hub)));
  open.push(...ps);
  return ps;
}

test("a second tab of the same patient replaces the first, which says why", async () => {
  const [dr, pt] = await people("dr-tabs", "pt-tabs");
  await startVisit(dr, pt, { visit: "v-tabs" });
  const page = await pt.context.newPage();
  const tab2 = { name: "pt-tab2", page, console: [] };
  await page.goto(`${hub.http}/`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === "true");
  await fillJoin(tab2, { role: "patient", name: "Lee", visit: "v-tabs" });
  await page.getByRole("button", { name: "Join visit" }).click();
  await pt.page
    .getByRole("heading", { name: "This visit is now open in another tab or window." })
    .waitFor();
  await framesRising(tab2, "Video of Dr. Kim");
  await framesRising(dr, "Video of Lee");
  assert.equal(await dr.page.getByLabel("Video of Lee", { exact: true }).count(), 1);
  // The replaced tab let go of the camera.
  assert.equal(
    await pt.page.locator("video").evaluateAll((vs) => vs.filter((v) => v.srcObject).length),
    0,
  );
  await snap(pt, "30-replaced");
});

test("a patient the provider declines sees that, with the provider's message", async () => {
  const [dr, pt] = await people("dr-deny", "pt-deny");
  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: "v-deny" });
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  await fillJoin(pt, { role: "patient", name: "Lee", visit: "v-deny" });
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  await pt.page.getByRole("heading", { name: "Waiting for your provider" }).waitFor();
  await dr.page.getByRole("button", { name: "Deny Lee" }).click();
  const dialog = dr.page.getByRole("dialog", { name: "Deny Lee?" });
  await dialog
    .getByLabel("Message to the patient (optional)")
    .fill("Please call the clinic to reschedule.");
  await snap(dr, "31-deny-dialog");
  await dialog.getByRole("button", { name: "Deny" }).click();
  await pt.page.getByRole("heading", { name: "You could not join this visit." }).waitFor();
  await pt.page
    .getByText("Message from your provider: Please call the clinic to reschedule.")
    .waitFor();
  await dr.page.getByText("No one is waiting.").waitFor();
  assert.equal(
    await pt.page.locator("video").evaluateAll((vs) => vs.filter((v) => v.srcObject).length),
    0,
  );
  await snap(pt, "32-denied");
});

/** Makes the cameras named in `window.busy` fail as a camera in use by another app does. */
function busyCameras() {
  window.busy = ["fake_device_0"];
  const real = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function (constraints) {
    const stream = await real.call(this, constraints);
    const video = stream.getVideoTracks()[0];
    if (video && window.busy.includes(video.label)) {
      for (const t of stream.getTracks()) t.stop();
      throw new DOMException("Could not start video source", "NotReadableError");
    }
    return stream;
  };
}

test("a camera another app holds: the check falls back to the other one", async () => {
  const p = await person("busy", hub, {
    flags: ["--use-fake-device-for-media-stream=device-count=2"],
    init: busyCameras,
  });
  open.push(p);
  await fillJoin(p, { role: "patient", name: "Lee", visit: "v-busy" });
  const camera = p.page.getByRole("main").getByLabel("Camera", { exact: true });
  await p.page.getByText("Your usual camera is busy, so we switched to another one.").waitFor();
  await framesRising(p, "Your camera preview");
  assert.equal(await camera.evaluate((s) => s.selectedOptions[0].textContent), "fake_device_1");
  await snap(p, "33-busy-fallback");
  // Picking the busy one keeps the camera that works.
  await camera.selectOption({ label: "fake_device_0" });
  await p.page
    .getByText("That camera is being used by another app, so we kept the one you had.")
    .waitFor();
  assert.equal(await camera.evaluate((s) => s.selectedOptions[0].textContent), "fake_device_1");
  await framesRising(p, "Your camera preview");
  // Every camera busy: the person can still join without one.
  await p.page.evaluate(() => window.busy.push("fake_device_1"));
  await camera.selectOption({ label: "fake_device_0" });
  await p.page.getByRole("button", { name: "Join without camera" }).click();
  await p.page.getByRole("heading", { name: "Waiting for your provider" }).waitFor();
});

test("a browser that blocks the camera and microphone shows how to allow them, and can join without", async () => {
  const [dr] = await people("dr-blocked");
  const pt = await person("pt-blocked", hub, {
    drop: ["--use-fake-ui-for-media-stream"],
    flags: ["--deny-permission-prompts"],
  });
  open.push(pt);
  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: "v-blocked" });
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  await fillJoin(pt, { role: "patient", name: "Lee", visit: "v-blocked" });
  const help = pt.page.getByRole("alert").filter({ hasText: "blocking the camera and microphone" });
  await help.waitFor();
  await help.getByRole("button", { name: "Try again" }).waitFor();
  assert.equal(await pt.page.getByRole("button", { name: "Join visit" }).isVisible(), false);
  await snap(pt, "34-blocked");
  await pt.page.getByRole("button", { name: "Join without camera or microphone" }).click();
  await dr.page.getByRole("button", { name: "Admit Lee" }).click();
  await framesRising(pt, "Video of Dr. Kim");
});

test("a patient who arrives first is told the provider has not joined, then sees them arrive", async () => {
  const [dr, pt] = await people("dr-late", "pt-early");
  await fillJoin(pt, { role: "patient", name: "Lee", visit: "v-early" });
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  const status = pt.page
    .getByRole("status")
    .filter({ hasText: "Your provider hasn't joined yet." });
  await status.waitFor();
  await snap(pt, "35-provider-not-here");
  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: "v-early" });
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  await pt.page.getByText("Dr. Kim is here and can see you're waiting.").waitFor();
  // The provider closes the page: the patient is told, and keeps waiting.
  await dr.page.close();
  await pt.page.getByText("Your provider hasn't joined yet.", { exact: false }).waitFor();
  assert.equal(
    await pt.page.getByRole("heading", { name: "Waiting for your provider" }).isVisible(),
    true,
  );
});

test("a clinic link carries the token in the fragment, and the page takes it out of the address bar", async () => {
  const [dr, pt] = await people("dr-link", "pt-link");
  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: "v-link" });
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  const tk = await token(hub, { visit: "v-link", role: "patient", sub: "pt-link", name: "Lee" });
  // Opened from the clinic's message: a new tab.
  await pt.page.close();
  pt.page = await pt.context.newPage();
  await pt.page.goto(`${hub.http}/#token=${tk}`);
  await pt.page.waitForFunction(() => document.documentElement.dataset.ready === "true");
  await pt.page.getByText("Your clinic sent you a link to a video visit.").waitFor();
  assert.ok(!pt.page.url().includes("#"), `the address bar still shows ${pt.page.url()}`);
  assert.equal(await pt.page.getByLabel("Your name").isVisible(), false, "no dev form");
  await pt.page.getByRole("button", { name: "Continue" }).click();
  await pt.page.getByRole("heading", { name: "Check your camera and sound" }).waitFor();
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  await dr.page.getByRole("button", { name: "Admit Lee" }).click();
  await framesRising(pt, "Video of Dr. Kim");
});

test("during the visit, Settings switches the camera and the other side keeps the video", async () => {
  const [dr] = await people("dr-switch");
  // Chromium's second fake camera is a depth camera (Y16) that no encoder
  // takes; the third (MJPEG) is an ordinary one.
  const pt = await person("pt-switch", hub, {
    flags: ["--use-fake-device-for-media-stream=device-count=3"],
  });
  open.push(pt);
  await startVisit(dr, pt, { visit: "v-switch" });
  const own = () =>
    pt.page
      .getByRole("main")
      .getByLabel("Your video", { exact: true })
      .evaluate((v) => v.srcObject?.getVideoTracks()[0]?.label);
  assert.equal(await own(), "fake_device_0");
  await pt.page.getByRole("button", { name: "Settings" }).click();
  const dialog = pt.page.getByRole("dialog", { name: "Camera and sound" });
  await dialog.getByLabel("Camera").selectOption({ label: "fake_device_2" });
  await pt.page.waitForFunction(
    () =>
      document.querySelector(".tile.self video")?.srcObject?.getVideoTracks()[0]?.label ===
      "fake_device_2",
  );
  await snap(pt, "36-settings");
  await dialog.getByRole("button", { name: "Done" }).click();
  await framesRising(dr, "Video of Lee");
  assert.equal(await own(), "fake_device_2");
});

test("a patient who reloads mid-visit comes straight back and reads what the provider sends next", async () => {
  const [dr, pt] = await people("dr-reload", "pt-reload");
  await startVisit(dr, pt, { visit: "v-reload" });
  await sendChat(dr, "before the reload");
  assert.equal(await chatShows(pt, "before the reload"), 1);
  // The page starts over (a new tab here: a reload would ask "leave the
  // visit?" first): the same device key, no state, a fresh hello.
  await pt.page.close();
  pt.page = await pt.context.newPage();
  await pt.page.goto(`${hub.http}/`);
  await pt.page.waitForFunction(() => document.documentElement.dataset.ready === "true");
  await fillJoin(pt, { role: "patient", name: "Lee", visit: "v-reload" });
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  // Admitted before: no waiting room.
  await framesRising(pt, "Video of Dr. Kim");
  await sendChat(dr, "after the reload");
  assert.equal(await chatShows(pt, "after the reload"), 1);
  await sendChat(pt, "I am back");
  assert.equal(await chatShows(dr, "I am back"), 1);
});
