// An identity change: a provider who met a patient before now reaches the
// hub through a stand-in that swaps the patient's key bundle for another
// device's (a valid bundle for the same participant, signed by another
// key). The page blocks: the "Security check needed" dialog, chat paused,
// the patient's video held back, the patient's new message not shown,
// until the provider accepts the new key.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHub, tempDir } from "../../web-sdk/test/harness.mjs";
import { DIST, person, snap, fillJoin, startVisit, sendChat, chatShows } from "./demo.mjs";
import { standIn } from "./standin.mjs";

const VISIT = "v-identity";
let hub;
let proxy;
const open = [];
let capture = false;
let otherBundle = null;
let swap = false;

/** Puts the other device's bundle wherever pt-lee's appears. */
function swapBundle(m) {
  if (!swap || !otherBundle) return m;
  if (m.type === "keys" && m.from === "pt-lee") m.bundle = otherBundle;
  for (const p of m.participants ?? []) if (p.id === "pt-lee") p.keys = otherBundle;
  if (m.type === "joined" && m.participant?.id === "pt-lee") m.participant.keys = otherBundle;
  return m;
}

before(async () => {
  hub = await startHub({ dataDir: tempDir("bedside-demo-hub-"), web: DIST });
  proxy = await standIn(hub, {
    rewrite: swapBundle,
    seen: (m) => {
      if (capture && m.type === "keys") otherBundle = m.bundle;
    },
  });
});

after(async () => {
  await Promise.all(open.map((p) => p.close()));
  await proxy?.stop();
  await hub?.stop();
});

test("a swapped key bundle blocks chat and media behind the security check until accepted", async () => {
  // Another device joins as the same patient once (its bundle is recorded
  // on the way), waits, and leaves: the stand-in now holds a valid bundle
  // for pt-lee that is not the patient's.
  const [drX, other] = await Promise.all([person("dr-x", hub), person("other-device", proxy)]);
  open.push(drX, other);
  await fillJoin(drX, { role: "provider", name: "Dr. X", visit: VISIT });
  await drX.page.getByRole("button", { name: "Join visit" }).click();
  capture = true;
  await fillJoin(other, { role: "patient", name: "Lee", visit: VISIT });
  await other.page.getByRole("button", { name: "Join visit" }).click();
  await other.page.getByRole("heading", { name: "Waiting for your provider" }).waitFor();
  for (let i = 0; i < 100 && !otherBundle; i++) await other.page.waitForTimeout(100);
  capture = false;
  assert.ok(otherBundle, "the other device published a bundle");
  await other.page.getByRole("button", { name: "Leave" }).click();
  await other.page.getByRole("heading", { name: "You left the visit." }).waitFor();

  // The provider (through the stand-in, honest so far) meets the real
  // patient and keeps the patient's key.
  const [dr, pt] = await Promise.all([person("dr-kim", proxy), person("pt-lee", hub)]);
  open.push(dr, pt);
  await startVisit(dr, pt, { visit: VISIT });
  await sendChat(pt, "hello from the real patient");
  assert.equal(await chatShows(dr, "hello from the real patient"), 1);

  // The provider comes back in a new tab; now the stand-in lies.
  swap = true;
  await dr.page.close();
  dr.page = await dr.context.newPage();
  await dr.page.goto(`${proxy.http}/`);
  await dr.page.waitForFunction(() => document.documentElement.dataset.ready === "true");
  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: VISIT });
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  const dialog = dr.page.getByRole("alertdialog", { name: "Security check needed" });
  await dialog.waitFor();
  await dialog.getByText("Lee's security code changed.", { exact: false }).waitFor();
  await snap(dr, "40-identity-changed");
  // Escape does not dismiss it.
  await dr.page.keyboard.press("Escape");
  assert.equal(await dialog.isVisible(), true);
  assert.equal(await dr.page.getByLabel("Message", { exact: true }).isDisabled(), true);
  await dr.page
    .getByText("Chat is paused until the security check is done.")
    .waitFor({ state: "attached" });
  assert.equal(
    await dr.page.getByLabel("Video of Lee", { exact: true }).isVisible(),
    false,
    "media held back",
  );

  // What the patient sends now is not shown. (A marker from the provider's
  // side would need the chat it cannot use; give the message time instead.)
  await sendChat(pt, "only for my doctor");
  await dr.page.waitForTimeout(2000);
  const log = dr.page.getByRole("log", { name: "Chat messages" });
  assert.equal(
    await log.getByText("only for my doctor").count(),
    0,
    "chat shown despite the swapped key",
  );

  // Accepting the new key lifts the block.
  await dialog.getByRole("button", { name: "I compared the numbers, continue" }).click();
  await dialog.waitFor({ state: "hidden" });
  const box = dr.page.getByLabel("Message", { exact: true });
  for (let i = 0; i < 50 && (await box.isDisabled()); i++) await dr.page.waitForTimeout(100);
  assert.equal(await box.isDisabled(), false, "chat usable again");
  assert.equal(await log.getByText("only for my doctor").count(), 0);
});
