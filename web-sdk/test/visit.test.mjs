// Two instances of the JS package in Debian's Chromium, against the real
// hub: join, admit, media both ways, end-to-end chat both ways, a screen
// share granted, received and revoked, glare, and the browser's storage.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  startHub,
  joinWithCamera,
  lobbyShows,
  browser,
  until,
  framesRising,
  webRoot,
  tempDir,
  shots,
} from "./harness.mjs";

const VISIT = "v-browser-visit-7";
const DR = { sub: "dr-ada", name: "Dr. Ada Lovelace", role: "provider" };
const PT = { sub: "pt-grace", name: "Grace Hopper", role: "patient" };

let hub;
let dr;
let pt;
const tokens = [];

before(async () => {
  mkdirSync(shots, { recursive: true });
  hub = await startHub({ dataDir: tempDir("bedside-hub-"), web: webRoot() });
  [dr, pt] = await Promise.all([browser("provider", hub), browser("patient", hub)]);
});

after(async () => {
  await Promise.all([dr?.close(), pt?.close()]);
  await hub?.stop();
});

test("a patient and a provider hold a visit in the browser", async () => {
  const drJoin = await joinWithCamera(dr, hub, { visit: VISIT, ...DR });
  assert.equal(drJoin.state, "admitted");
  const ptJoin = await joinWithCamera(pt, hub, { visit: VISIT, ...PT });
  assert.equal(ptJoin.state, "waiting");
  tokens.push(drJoin.token, ptJoin.token);

  // The provider sees the patient in the lobby and admits them.
  await lobbyShows(dr, PT.sub);
  await dr.eval((sub) => window.t.room.admit(sub), PT.sub);
  await until(pt, () => window.t.room.state === "admitted", null, {
    what: "admission",
  });

  // Peer connections up, remote video decoding on both sides.
  for (const [p, peer] of [
    [dr, PT.sub],
    [pt, DR.sub],
  ]) {
    await until(
      p,
      (peer) =>
        window.t.events.some(
          (e) =>
            e.type === "peerConnectionStateChanged" &&
            e.participant === peer &&
            e.state === "connected",
        ),
      peer,
      { what: "connected" },
    );
    await until(
      p,
      (peer) =>
        window.t.events.some(
          (e) => e.type === "trackSubscribed" && e.participant === peer && e.source === "camera",
        ),
      peer,
      { what: "the camera track" },
    );
    await framesRising(p, peer);
  }
  await pt.page.screenshot({ path: join(shots, "sdk-patient-in-visit.png") });

  // Chat both ways, each acknowledged to its sender.
  for (const [from, to, text] of [
    [dr, pt, "How are you feeling today?"],
    [pt, dr, "Much better, thank you."],
  ]) {
    const id = await from.eval((text) => window.t.room.sendChat(text), text);
    await until(from, (id) => window.t.acked.has(id), id, {
      what: "the chat acknowledgement",
    });
    await until(to, (text) => window.t.chats.some((c) => c.text === text), text, {
      what: `the chat "${text}"`,
    });
  }

  // Screen share: refused without the permission, then granted, received, revoked.
  const refused = await pt.eval(async () => {
    try {
      await window.t.publishScreen();
      return "published";
    } catch (e) {
      return e.code ?? e.message;
    }
  });
  assert.equal(refused, "not_permitted");
  await dr.eval((sub) => window.t.room.grant(sub, "screen_share"), PT.sub);
  await until(pt, () => window.t.room.localParticipant.perms.includes("screen_share"), null, {
    what: "the screen_share grant",
  });
  await pt.eval(() => window.t.publishScreen());
  await until(
    dr,
    (peer) =>
      window.t.events.some(
        (e) => e.type === "trackSubscribed" && e.participant === peer && e.source === "screen",
      ),
    PT.sub,
    { what: "the screen track" },
  );
  await framesRising(dr, PT.sub, "camera and screen frames");
  await until(
    dr,
    async (peer) =>
      Object.values(await window.t.framesDecoded(peer)).filter((n) => n > 0).length >= 2,
    PT.sub,
    { what: "two video streams decoding" },
  );
  await until(
    dr,
    () =>
      [...window.t.videos.values()].some((v) => v.dataset.source === "screen" && v.videoWidth > 0),
    null,
    { what: "the screen video painted" },
  );
  await dr.page.screenshot({
    path: join(shots, "sdk-provider-sees-screen.png"),
  });
  await dr.eval((sub) => window.t.room.revoke(sub, "screen_share"), PT.sub);
  await until(
    pt,
    () => window.t.events.some((e) => e.type === "localTrackStopped" && e.source === "screen"),
    null,
    { what: "the screen stopped by the revoke" },
  );
  assert.equal(await pt.eval(() => window.t.local.screen.readyState), "ended");
  await until(
    dr,
    (peer) => {
      const screen = window.t.events.find(
        (e) => e.type === "trackSubscribed" && e.participant === peer && e.source === "screen",
      );
      return window.t.events.some(
        (e) => e.type === "trackUnsubscribed" && e.trackId === screen.trackId,
      );
    },
    PT.sub,
    { what: "the screen track withdrawn" },
  );
  // Renegotiated without the screen: no SDP refused by the hub.
  await until(
    pt,
    () =>
      window.t.room.participants
        .find((p) => p.id === window.t.room.localParticipant.id)
        ?.tracks.every((t) => t.source !== "screen"),
    null,
    { what: "the screen unpublished" },
  );

  // Shared again and again: each share reuses the transceiver the last one
  // left (no m-section piles up; the hub refuses more than 16 per SDP).
  await dr.eval((sub) => window.t.room.grant(sub, "screen_share"), PT.sub);
  await until(pt, () => window.t.room.localParticipant.perms.includes("screen_share"), null, {
    what: "the second grant",
  });
  for (let round = 1; round <= 15; round++) {
    const before = await dr.eval(() =>
      window.t.count("trackSubscribed", (e) => e.source === "screen"),
    );
    await pt.eval(() => window.t.publishScreen());
    await until(
      dr,
      (n) => window.t.count("trackSubscribed", (e) => e.source === "screen") > n,
      before,
      { what: `the screen, share ${round}` },
    );
    const gone = await dr.eval(() => window.t.count("trackUnsubscribed"));
    await pt.eval(async () => {
      await window.t.room.unpublishTrack(window.t.local.screen);
      window.t.local.screen.stop();
    });
    await until(dr, (n) => window.t.count("trackUnsubscribed") > n, gone, {
      what: `the screen withdrawn, share ${round}`,
    });
  }
  for (const p of [dr, pt]) {
    const refused = await p.eval(() =>
      window.t.events
        .filter((e) => e.type === "error")
        .map((e) => `${e.error.code}: ${e.error.message}`),
    );
    assert.deepEqual(refused, [], `${p.name}: errors while sharing again`);
  }

  // Connection quality from getStats: on loopback, excellent or good.
  for (const [p, peer] of [
    [dr, PT.sub],
    [pt, DR.sub],
  ]) {
    await until(
      p,
      (peer) =>
        window.t.events.some(
          (e) =>
            e.type === "connectionQualityChanged" &&
            e.participant === peer &&
            ["excellent", "good"].includes(e.quality) &&
            typeof e.rttMs === "number",
        ),
      peer,
      { what: "a quality level from getStats" },
    );
  }

  // Device switch: replaceTrack, no renegotiation: the provider sees no new
  // announcement or track, and the frames keep coming at the new size.
  const announced = await dr.eval(() => window.t.count("trackPublished"));
  const subscribed = await dr.eval(() => window.t.count("trackSubscribed"));
  await pt.eval(() => window.t.switchCamera());
  await until(
    dr,
    () =>
      [...window.t.videos.values()].some(
        (v) => v.dataset.source === "camera" && v.videoWidth === 320,
      ),
    null,
    { what: "the switched camera at 320 px" },
  );
  await framesRising(dr, PT.sub, "frames after the device switch");
  assert.equal(await dr.eval(() => window.t.count("trackPublished")), announced);
  assert.equal(await dr.eval(() => window.t.count("trackSubscribed")), subscribed);

  // Glare: both sides renegotiate at once (ICE restarts cross on the wire).
  await Promise.all([
    dr.eval(() => window.t.room.networkChanged()),
    pt.eval(() => window.t.room.networkChanged()),
  ]);
  for (const [p, peer] of [
    [dr, PT.sub],
    [pt, DR.sub],
  ]) {
    await framesRising(p, peer, "frames after glare");
  }
  for (const p of [dr, pt]) {
    const errors = await p.eval(() =>
      window.t.events.filter((e) => e.type === "error").map((e) => e.error),
    );
    assert.deepEqual(
      errors.filter((e) => e.code === "invalid_sdp"),
      [],
      `${p.name}: the hub refused an SDP`,
    );
  }
});

test("the browser keeps no names, visit ids, tokens or chat text, and the identity key is not extractable", async () => {
  const secrets = [VISIT, DR.name, PT.name, ...tokens, "How are you feeling", "Much better"];
  for (const p of [dr, pt]) {
    const dump = await p.eval(async () => {
      const d = await window.t.storage();
      const rec = d.idb.find((x) => x.db === "bedside-device")?.records[0];
      const key = rec?.key;
      let exported = "refused";
      try {
        await crypto.subtle.exportKey("raw", key);
        exported = "exported";
      } catch {}
      const text = JSON.stringify(d, (k, v) =>
        v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? `[${v.byteLength} bytes]` : v,
      );
      return {
        text,
        extractable: key?.extractable,
        type: key?.type,
        algorithm: key?.algorithm?.name,
        exported,
        identityBytes: rec?.identity?.data?.byteLength,
      };
    });
    assert.equal(dump.algorithm, "AES-GCM", `${p.name}: the wrapping key`);
    assert.equal(dump.extractable, false, `${p.name}: the wrapping key is not extractable`);
    assert.equal(dump.exported, "refused");
    assert.equal(dump.identityBytes, 32 + 16, "the identity is stored sealed (32 bytes + tag)");
    for (const s of secrets) {
      assert.ok(!dump.text.includes(s), `${p.name}: storage holds ${s.slice(0, 20)}`);
      for (const line of p.console)
        assert.ok(!line.includes(s), `${p.name}: the console shows ${s.slice(0, 20)}`);
    }
  }
  // "Forget this device" erases the identity.
  const after = await pt.eval(async () => {
    await window.t.room.leave();
    await window.t.forgetDevice();
    return (await indexedDB.databases()).map((d) => d.name);
  });
  assert.ok(!after.includes("bedside-device"), `databases left: ${after}`);
});
