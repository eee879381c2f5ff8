// One AudioContext for the page, made inside a click (so browsers let it
// play): the microphone meter, the test tone and the waiting-room chime.
// Sounds go through an <audio> element so the chosen speaker applies.

import { $ } from "./ui.js";
import { routeTo } from "./devices.js";

let ctx;
let out;

/** Creates (or resumes) the context; call from a user gesture. */
export function unlock() {
  if (!ctx) {
    ctx = new AudioContext();
    out = ctx.createMediaStreamDestination();
    $("sound").srcObject = out.stream;
  }
  ctx.resume().catch(() => {});
  $("sound")
    .play()
    .catch(() => {});
}

/** Sends sound to this speaker. */
export function setSpeaker(id) {
  return routeTo($("sound"), id);
}

function beep(freq, start, length, gain = 0.2) {
  if (!ctx) return;
  const osc = ctx.createOscillator();
  const g = ctx.createGain();
  osc.frequency.value = freq;
  g.gain.setValueAtTime(0, ctx.currentTime + start);
  g.gain.linearRampToValueAtTime(gain, ctx.currentTime + start + 0.02);
  g.gain.linearRampToValueAtTime(0, ctx.currentTime + start + length);
  osc.connect(g).connect(out);
  osc.start(ctx.currentTime + start);
  osc.stop(ctx.currentTime + start + length + 0.05);
}

/** A short tune to check the speaker. */
export function testTone() {
  beep(523, 0, 0.25);
  beep(659, 0.3, 0.25);
  beep(784, 0.6, 0.4);
}

/** Two soft notes: someone is waiting. */
export function chime() {
  beep(660, 0, 0.18, 0.15);
  beep(880, 0.2, 0.3, 0.15);
}

/**
 * Calls `onLevel(0..1)` about 10 times a second with the loudness of a
 * microphone track; returns a function that stops it.
 */
export function meter(track, onLevel) {
  if (!ctx || !track) return () => {};
  const src = ctx.createMediaStreamSource(new MediaStream([track]));
  const an = ctx.createAnalyser();
  an.fftSize = 512;
  src.connect(an);
  const buf = new Float32Array(an.fftSize);
  const timer = setInterval(() => {
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    // RMS scaled so ordinary speech fills most of the bar.
    onLevel(Math.min(1, Math.sqrt(sum / buf.length) * 4));
  }, 100);
  return () => {
    clearInterval(timer);
    src.disconnect();
  };
}
