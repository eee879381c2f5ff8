// Cameras, microphones and speakers: opening them with a fallback when one
// is busy, listing them, and remembering the chosen ones. Only device ids
// are stored (labels can hold a person's name: "Ada's iPhone camera").

const KEY = "bedside.devices";

/** The ids chosen earlier on this browser: {camera, mic, speaker}. */
export function saved() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "{}");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

/** Remembers a choice (`kind`: camera, mic or speaker). */
export function remember(kind, deviceId) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ ...saved(), [kind]: deviceId }));
  } catch {
    // storage refused (private mode): the choice lasts for this page only
  }
}

/** Every camera, microphone and speaker the browser lists. */
export async function list() {
  const all = await navigator.mediaDevices.enumerateDevices();
  const of = (kind) => all.filter((d) => d.kind === kind && d.deviceId);
  return { cameras: of("videoinput"), mics: of("audioinput"), speakers: of("audiooutput") };
}

const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Errors worth trying another device for (busy, gone, or unusable). */
const TRY_ANOTHER = new Set([
  "NotReadableError",
  "AbortError",
  "OverconstrainedError",
  "NotFoundError",
]);

/**
 * Opens a camera (`kind` "video") or microphone ("audio"): the preferred
 * device first; if it is busy or gone (and `fallback`), every other one in turn. Resolves
 * with {track, fellBack}; rejects with the first device's error when none opens.
 */
export async function open(kind, preferredId, fallback = true) {
  const base = kind === "video" ? VIDEO : AUDIO;
  const tryOne = async (deviceId) => {
    const c = deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: c });
    return stream.getTracks()[0];
  };
  let first;
  try {
    return { track: await tryOne(preferredId), fellBack: false };
  } catch (e) {
    if (!fallback || !TRY_ANOTHER.has(e?.name)) throw e;
    first = e;
  }
  const { cameras, mics } = await list().catch(() => ({ cameras: [], mics: [] }));
  for (const d of kind === "video" ? cameras : mics) {
    if (d.deviceId === preferredId) continue;
    try {
      return { track: await tryOne(d.deviceId), fellBack: true };
    } catch (e) {
      if (!TRY_ANOTHER.has(e?.name)) throw e;
    }
  }
  throw first;
}

/** The device a track comes from. */
export function deviceOf(track) {
  return track?.getSettings?.().deviceId;
}

/** Whether this browser lets a page choose the speaker. */
export const canPickSpeaker = typeof HTMLMediaElement.prototype.setSinkId === "function";

/** Routes a media element to a speaker, where the browser allows it. */
export async function routeTo(element, speakerId) {
  if (canPickSpeaker && speakerId !== undefined) {
    await element.setSinkId(speakerId).catch(() => {});
  }
}
