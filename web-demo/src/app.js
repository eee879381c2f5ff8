// The Bedside web demo: a patient and a provider hold a video visit.
//
//   join ─▶ pre-call check ─▶ (waiting room) ─▶ visit ─▶ ended
//
// Reconnecting, an identity check and screen sharing run across the
// visit. The page keeps chat and names in memory only; browser storage
// holds the device's key (sealed, in the SDK) and chosen device ids.

import { Room } from "./sdk/index.js";
import { $, show, announce, ask, setPressed } from "./ui.js";
import { endedText, errorText } from "./text.js";
import * as tokens from "./token.js";
import * as audio from "./audio.js";
import { LocalMedia } from "./local.js";
import { Precheck, refreshPickers } from "./precheck.js";
import { Tiles } from "./tiles.js";
import { Lobby } from "./lobby.js";
import { Chat } from "./chat.js";
import { Identity } from "./identity.js";
import { Share } from "./share.js";
import { Settings } from "./settings.js";

const local = new LocalMedia();
const precheck = new Precheck(local);

/** What this page is doing now. */
const app = {
  mode: "link", // or "dev"
  token: null,
  claims: null,
  room: null,
  screen: "join",
  wasAdmitted: false,
  reconnecting: false,
  names: new Map(),
  tiles: null,
  lobby: null,
  chat: null,
  identity: null,
  share: null,
  lastQualityNote: 0,
};

function nameOf(id) {
  return app.names.get(id) ?? "Someone";
}

function go(screen) {
  app.screen = screen;
  show(`screen-${screen}`);
}

// ── Join ──────────────────────────────────────────────────────────────

/** Link mode: the join form only says what comes next. */
function linkMode() {
  app.mode = "link";
  $("join-dev").hidden = true;
  $("join-link").hidden = false;
  $("join-form").querySelector("button").hidden = false;
  joinError(null);
}

// A link opened in a tab already showing this page changes only the fragment.
window.addEventListener("hashchange", () => {
  if (app.screen !== "join" || app.room) return;
  const token = tokens.tokenFromLink();
  if (token) {
    app.token = token;
    linkMode();
  }
});

async function init() {
  app.token = tokens.tokenFromLink();
  if (app.token) {
    linkMode();
  } else if (await tokens.devModeAvailable()) {
    app.mode = "dev";
    $("join-dev").hidden = false;
  } else {
    $("join-dev").hidden = true;
    $("join-form").querySelector("button").hidden = true;
    joinError("This page needs the visit link from your clinic.");
  }
  $("join-form").addEventListener("submit", onContinue);
  go("join");
  document.documentElement.dataset.ready = "true";
  performance.mark("bedside-ready");
}

function joinError(text) {
  const p = $("join-error");
  p.hidden = !text;
  p.textContent = text ?? "";
}

async function onContinue(e) {
  e.preventDefault();
  audio.unlock();
  joinError(null);
  if (app.mode === "dev") {
    const form = new FormData($("join-form"));
    const role = String(form.get("role"));
    const name = String(form.get("name") ?? "").trim();
    const visit = String(form.get("visit") ?? "").trim();
    const sub = String(form.get("sub") ?? "").trim() || tokens.participantId(role, name);
    if (!name) return fieldError("join-name", "Enter your name.");
    if (!$("join-visit").checkValidity() || !visit) {
      return fieldError("join-visit", "Enter the visit code: letters, digits and . _ : @ - only.");
    }
    app.claims = { role, name, visit, sub };
    try {
      app.token = await tokens.devToken(app.claims);
    } catch (err) {
      return joinError(`Could not join: ${err.message}`);
    }
  }
  go("precheck");
  await precheck.start();
}

function fieldError(id, text) {
  joinError(text);
  $(id).setAttribute("aria-invalid", "true");
  $(id).focus();
}

// ── Joining the visit ─────────────────────────────────────────────────

$("join-visit-btn").addEventListener("click", () => joinVisit(true));
$("join-nocam").addEventListener("click", () => joinVisit(false));

async function joinVisit(withCamera) {
  audio.unlock();
  if (!withCamera) {
    local.camera?.stop();
    local.camera = null;
    local.cameraOff = true;
  }
  precheck.done();
  const room = new Room();
  app.room = room;
  // Made before connecting: an identity change can be the first thing the
  // hub's roster brings (it comes before the visit screen is shown).
  app.identity = new Identity(
    room,
    nameOf,
    () => applyBlocks(),
    () => room.leave(),
  );
  wire(room);
  $("join-visit-btn").disabled = $("join-nocam").disabled = true;
  try {
    await room.connect({
      url: tokens.signalUrl(),
      token: app.token,
      tokenSource: app.mode === "dev" ? () => tokens.devToken(app.claims) : undefined,
    });
  } catch (err) {
    if (!room.endReason) ended({ reason: "unauthorized" });
    return;
  } finally {
    $("join-visit-btn").disabled = $("join-nocam").disabled = false;
  }
  app.token = null; // single use
  await local.publishInto(room).catch((err) => showError(err));
  renderControls();
}

function wire(room) {
  room.on("connectionStateChanged", (e) => {
    if (e.state === "reconnecting" && app.screen !== "precheck") {
      app.reconnecting = true;
      $("reconnecting").hidden = false;
    } else if (e.state === "connected" && app.reconnecting) {
      app.reconnecting = false;
      $("reconnecting").hidden = true;
      announce("Reconnected.");
    }
  });
  room.on("welcome", (e) => {
    app.names.set(e.participant.id, e.participant.name);
    $("e2e-note").hidden = false;
    if (e.state === "waiting" && app.screen !== "waiting") enterWaiting();
  });
  room.on("waiting", () => {
    if (app.screen !== "waiting") enterWaiting();
  });
  room.on("admitted", (e) => {
    for (const p of e.participants) app.names.set(p.id, p.name);
    if (app.screen !== "visit") enterVisit();
    const me = room.localParticipant?.id;
    for (const p of e.participants) if (p.id !== me) app.tiles.person(p);
    applyBlocks();
  });
  room.on("presenceChanged", (e) => showPresence(e.providers));
  room.on("lobbyChanged", (e) => {
    for (const w of e.waiting) app.names.set(w.id, w.name);
    app.lobby?.update(e.waiting);
  });
  room.on("participantJoined", ({ participant: p }) => {
    app.names.set(p.id, p.name);
    const known = app.tiles?.ids().includes(p.id);
    app.tiles?.person(p);
    app.tiles?.overlay(p.id, null);
    applyBlocks();
    announce(known ? `${p.name} is back.` : `${p.name} joined.`);
  });
  room.on("participantLeft", (e) => {
    const name = nameOf(e.participant);
    if (e.reason === "closed") {
      app.tiles?.overlay(
        e.participant,
        `${name}'s connection dropped. Waiting for them to come back…`,
      );
      announce(`${name}'s connection dropped.`);
      return;
    }
    app.tiles?.remove(e.participant);
    app.share?.gone(e.participant);
    announce(
      e.reason === "removed" ? `${name} was removed from the visit.` : `${name} left the visit.`,
    );
  });
  room.on("permissionsChanged", (e) => {
    if (e.participant === room.localParticipant?.id) app.share?.permissions(e.perms, app.hadShare);
    app.hadShare = room.localParticipant?.perms.includes("screen_share");
  });
  room.on("permissionRequested", (e) => app.share?.requested(e.participant));
  room.on("trackSubscribed", (e) => {
    const p = room.participants.find((x) => x.id === e.participant) ?? {
      id: e.participant,
      name: nameOf(e.participant),
      role: "guest",
    };
    app.tiles?.attach(p, e.trackId, e.source, e.track);
    if (e.source === "screen") announce(`${p.name} is sharing their screen.`);
  });
  room.on("trackUnsubscribed", (e) => app.tiles?.detach(e.participant, e.trackId));
  room.on("localTrackStopped", (e) => {
    if (e.source === "screen") app.share?.withdrawn(e.track);
  });
  room.on("chatReceived", (e) => app.chat?.received(e));
  room.on("chatAcknowledged", (e) => app.chat?.acknowledged(e.messageId));
  room.on("identityChanged", (e) => app.identity?.changed(e.participant, e.safetyNumber));
  room.on("peerConnectionStateChanged", (e) => {
    if (app.identity?.blocked.has(e.participant)) return;
    const text = e.state === "disconnected" || e.state === "failed" ? "Reconnecting video…" : null;
    app.tiles?.overlay(e.participant, text);
  });
  room.on("connectionQualityChanged", (e) => {
    app.tiles?.quality(e.participant, e.quality);
    const now = Date.now();
    if ((e.quality === "poor" || e.quality === "lost") && now - app.lastQualityNote > 15_000) {
      app.lastQualityNote = now;
      announce(`${nameOf(e.participant)}'s connection is weak. Video may freeze.`);
    }
  });
  room.on("error", (e) => showError(e.error));
  room.on("ended", (e) => ended(e));
}

function showError(error) {
  const p = $("visit-error");
  if (p) {
    p.hidden = false;
    p.textContent = errorText(error);
  }
}

// ── Waiting room ──────────────────────────────────────────────────────

function enterWaiting() {
  go("waiting");
  $("waiting-self").srcObject = local.camera ? new MediaStream([local.camera]) : null;
  setPressed($("waiting-mute"), local.micMuted);
  announce("You are in the waiting room.");
}

/** Who of the clinic is here, for a waiting patient. */
function showPresence(providers) {
  const names = providers.map((p) => p.name);
  const list = new Intl.ListFormat(undefined, { type: "conjunction" }).format(names);
  $("presence").textContent =
    names.length === 0
      ? "Your provider hasn't joined yet. They will see you're waiting as soon as they do."
      : `${list} ${names.length === 1 ? "is" : "are"} here and can see you're waiting.`;
}

$("waiting-mute").addEventListener("click", () => {
  local.setMicMuted(!local.micMuted);
  setPressed($("waiting-mute"), local.micMuted);
  announce(local.micMuted ? "Microphone muted." : "Microphone on.");
});
$("waiting-leave").addEventListener("click", () => app.room?.leave());

// ── The visit ─────────────────────────────────────────────────────────

function enterVisit() {
  const room = app.room;
  const me = room.localParticipant;
  const provider = me?.role === "provider";
  const wasWaiting = app.screen === "waiting";
  app.wasAdmitted = true;
  $("waiting-self").srcObject = null;
  app.tiles = new Tiles({
    security: (id) => app.identity.check(id),
    stopShare: (id) => room.revoke(id, "screen_share").catch(showError),
    remove: (id) => removeSomeone(id),
    isProvider: () => provider,
  });
  app.tiles.showSelf(me, local.camera, local.micMuted);
  app.chat = new Chat(room, nameOf);
  app.hadShare = me?.perms.includes("screen_share");
  app.share = new Share(room, nameOf, () =>
    room.participants.filter((p) => p.id !== me?.id).map((p) => p.name),
  );
  if (provider) app.lobby = new Lobby(room);
  app.settings = new Settings(local, app.tiles);
  $("btn-end").hidden = !provider;
  go("visit");
  renderControls();
  announce(wasWaiting ? "Your provider let you in." : "You joined the visit.");
}

/** Holds back the media and chat of anyone whose new identity is not accepted yet. */
function applyBlocks() {
  const blocked = app.identity?.blocked ?? new Set();
  for (const id of app.tiles?.ids() ?? []) app.tiles.pause(id, blocked.has(id));
  app.chat?.pause(blocked.size > 0);
}

async function removeSomeone(id) {
  await app.room.remove(id).catch(showError);
}

function renderControls() {
  setPressed($("btn-mic"), local.micMuted);
  setPressed($("btn-cam"), local.cameraOff || !local.camera);
  $("btn-mic").disabled = !local.mic;
  app.tiles?.showSelf(app.room.localParticipant, local.camera, local.micMuted);
}

local.addEventListener("change", () => {
  if (app.screen === "visit") renderControls();
});

$("btn-mic").addEventListener("click", () => {
  local.setMicMuted(!local.micMuted);
  announce(local.micMuted ? "Microphone muted." : "Microphone on.");
});

$("btn-cam").addEventListener("click", async () => {
  const off = !(local.cameraOff || !local.camera);
  try {
    await local.setCameraOff(off);
    announce(off ? "Camera off." : "Camera on.");
  } catch (err) {
    showError(err);
  }
  renderControls();
});

$("btn-leave").addEventListener("click", async () => {
  if ((await ask($("dlg-leave"))) === "leave") app.room?.leave();
});

$("btn-end").addEventListener("click", async () => {
  if ((await ask($("dlg-end"))) === "end") app.room?.endVisit();
});

// A device that went away mid-call (unplugged): move to another one.
local.addEventListener("lost", async (e) => {
  const which = e.detail;
  try {
    await (which === "camera" ? local.openCamera() : local.openMic());
    announce(
      which === "camera"
        ? "Your camera was disconnected. Now using another camera."
        : "Your microphone was disconnected. Now using another microphone.",
    );
  } catch {
    announce(
      which === "camera" ? "Your camera was disconnected." : "Your microphone was disconnected.",
    );
  }
});

navigator.mediaDevices?.addEventListener("devicechange", () => {
  if (app.screen === "precheck") refreshPickers(local);
});

window.addEventListener("online", () => app.room?.networkChanged().catch(() => {}));

window.addEventListener("beforeunload", (e) => {
  if (app.screen === "visit") e.preventDefault();
});

// ── Ended ─────────────────────────────────────────────────────────────

function ended(e) {
  const { heading, detail } = endedText(e.reason, app.wasAdmitted, e.message);
  local.stop();
  app.share?.end();
  app.chat?.clear();
  app.tiles?.clear();
  app.lobby?.stop();
  app.names.clear();
  $("reconnecting").hidden = true;
  $("e2e-note").hidden = true;
  $("share-request").hidden = true;
  $("sharing-bar").hidden = true;
  $("waiting-self").srcObject = null;
  $("ended-h").textContent = heading;
  $("ended-detail").hidden = !detail;
  $("ended-detail").textContent = detail ?? "";
  $("join-again").hidden = app.mode !== "dev";
  $("join-again").textContent = e.reason === "replaced" ? "Use this tab instead" : "Join again";
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  go("ended");
  app.room = null;
}

$("join-again").addEventListener("click", () => location.reload());

init();
