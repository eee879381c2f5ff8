// Accessibility: axe-core (WCAG 2.2 A and AA rules) on every screen and
// dialog at desktop and phone size, the focus order of the join form, the
// announcements of state changes, and no sideways scrolling at 320 px.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { startHub, tempDir } from "../../web-sdk/test/harness.mjs";
import { DIST, DESKTOP, PHONE, person, fillJoin, framesRising, openChat } from "./demo.mjs";

const require = createRequire(new URL("../../web-sdk/package.json", import.meta.url));
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

let hub;
let dr;
let pt;

before(async () => {
  hub = await startHub({ dataDir: tempDir("bedside-demo-hub-"), web: DIST });
  // Trusted Types (the page's policy) would refuse axe's own DOM writes.
  const opts = { context: { bypassCSP: true } };
  [dr, pt] = await Promise.all([person("dr-a11y", hub, opts), person("pt-a11y", hub, opts)]);
});

after(async () => {
  await Promise.all([dr?.close(), pt?.close()]);
  await hub?.stop();
});

/** Runs axe at desktop and phone size; no violations allowed. */
async function audit(p, what) {
  for (const size of [DESKTOP, PHONE]) {
    await p.page.setViewportSize(size);
    if (!(await p.page.evaluate(() => typeof window.axe === "object"))) await p.page.evaluate(AXE);
    const violations = await p.page.evaluate(
      (tags) =>
        window.axe
          .run(document, { runOnly: { type: "tag", values: tags } })
          .then((r) =>
            r.violations.map(
              (v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
            ),
          ),
      TAGS,
    );
    assert.deepEqual(violations, [], `${p.name}, ${what} at ${size.width}px`);
  }
  await p.page.setViewportSize(DESKTOP);
}

/** The polite live region says `text` (eventually). */
async function announced(p, text) {
  await p.page.waitForFunction((t) => document.getElementById("announcer").textContent === t, text);
}

test("every screen and dialog passes axe, focus order is sane, changes are announced", async () => {
  await audit(dr, "join");
  // Keyboard: from the heading, Tab walks the form in reading order.
  await dr.page.getByRole("heading", { name: "Join your video visit" }).focus();
  const order = [];
  for (let i = 0; i < 5; i++) {
    await dr.page.keyboard.press("Tab");
    order.push(
      await dr.page.evaluate(() => {
        const a = document.activeElement;
        return a.labels?.[0]?.textContent.trim() || a.textContent.trim();
      }),
    );
  }
  assert.deepEqual(order, ["Patient", "Your name", "Visit code", "More options", "Continue"]);

  await fillJoin(dr, { role: "provider", name: "Dr. Kim", visit: "v-a11y" });
  await framesRising(dr, "Your camera preview");
  await audit(dr, "pre-call check");
  await dr.page.getByRole("button", { name: "Join visit" }).click();
  await dr.page.getByRole("heading", { name: "Waiting room" }).waitFor();
  await audit(dr, "visit, alone");

  await fillJoin(pt, { role: "patient", name: "Lee", visit: "v-a11y" });
  await pt.page.getByRole("button", { name: "Join visit" }).click();
  await pt.page.getByRole("heading", { name: "Waiting for your provider" }).waitFor();
  await announced(pt, "You are in the waiting room.");
  await audit(pt, "waiting room");
  await announced(dr, "Lee is waiting to join.");
  await audit(dr, "lobby with someone waiting");
  await dr.page.getByRole("button", { name: "Deny Lee" }).click();
  await audit(dr, "deny dialog");
  await dr.page.getByRole("button", { name: "Cancel" }).click();

  await dr.page.getByRole("button", { name: "Admit Lee" }).click();
  await announced(pt, "Your provider let you in.");
  await framesRising(pt, "Video of Dr. Kim");
  await audit(pt, "visit");
  await openChat(pt);
  await audit(pt, "visit with chat open");
  await pt.page.getByText("More for Dr. Kim").click();
  await pt.page.getByRole("button", { name: "Check security with Dr. Kim" }).click();
  await pt.page.getByRole("dialog", { name: "Check security with Dr. Kim" }).waitFor();
  await audit(pt, "safety number dialog");
  await pt.page.getByRole("button", { name: "Close", exact: true }).click();
  await pt.page.getByRole("button", { name: "Leave", exact: true }).click();
  await audit(pt, "leave dialog");
  await pt.page.getByRole("button", { name: "Stay" }).click();
  await dr.page.getByRole("button", { name: "End visit for everyone" }).click();
  await audit(dr, "end dialog");
  await dr.page.getByRole("button", { name: "End visit", exact: true }).click();
  await pt.page.getByRole("heading", { name: "The visit has ended." }).waitFor();
  await audit(pt, "ended");

  // The audit can fail: an unlabelled button is caught.
  const caught = await pt.page.evaluate(() => {
    document.body.append(document.createElement("button"));
    return window.axe
      .run(document, { runOnly: { type: "rule", values: ["button-name"] } })
      .then((r) => r.violations.length);
  });
  assert.equal(caught, 1);

  // A 320 px wide phone: nothing scrolls sideways, on any screen shown here.
  await pt.page.setViewportSize({ width: 320, height: 640 });
  assert.ok(await pt.page.evaluate(() => document.documentElement.scrollWidth <= 320));
});
