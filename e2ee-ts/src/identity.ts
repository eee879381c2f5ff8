/** Identity keys, fingerprints (docs/e2ee.md §2) and the safety number (§13). */
import { compareBytes, concat } from "./bytes.js";
import { LABEL_FP, LABEL_SN } from "./labels.js";
import { ed25519Public, sha256, sha512 } from "./primitives.js";

/** The 32-byte Ed25519 public key `IK` of the 32-byte seed `ik_secret`. */
export function identityPublic(ikSecret: Uint8Array): Uint8Array {
  return ed25519Public(ikSecret);
}

/** fingerprint(IK) = SHA-256("bedside-fp-v1" || IK) (§2). */
export async function fingerprint(ik: Uint8Array): Promise<Uint8Array> {
  if (ik.length !== 32) throw new RangeError("IK must be 32 bytes");
  return sha256(concat(LABEL_FP, ik));
}

/** Number of SHA-512 iterations in digits(IK) (§13). */
export const SAFETY_ITERATIONS = 5200;

/** digits(IK): 30 ASCII digits (§13). */
export async function safetyDigits(ik: Uint8Array): Promise<string> {
  if (ik.length !== 32) throw new RangeError("IK must be 32 bytes");
  let h = await sha512(concat(LABEL_SN, ik));
  for (let n = 1; n < SAFETY_ITERATIONS; n++) h = await sha512(concat(h, ik));
  let out = "";
  for (let j = 0; j < 6; j++) {
    let v = 0n;
    for (let b = 0; b < 5; b++) v = (v << 8n) | BigInt(h[5 * j + b] as number);
    out += (v % 100000n).toString().padStart(5, "0");
  }
  return out;
}

/**
 * The 60 safety-number digits: digits(IK_lo) || digits(IK_hi) (§13).
 * `digitsOf` may be a caching wrapper of `safetyDigits` (5200 SHA-512 each).
 */
export async function safetyNumberDigits(
  a: Uint8Array,
  b: Uint8Array,
  digitsOf: (ik: Uint8Array) => Promise<string> = safetyDigits,
): Promise<string> {
  const [lo, hi] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  return (await digitsOf(lo)) + (await digitsOf(hi));
}

/** Display form: 12 groups of 5 digits separated by one space (71 characters). */
export function formatSafetyNumber(digits60: string): string {
  if (!/^[0-9]{60}$/.test(digits60)) throw new RangeError("expected 60 digits");
  const groups: string[] = [];
  for (let i = 0; i < 60; i += 5) groups.push(digits60.slice(i, i + 5));
  return groups.join(" ");
}

/** safety_number(IK_a, IK_b) in display form (§13); symmetric in its arguments. */
export async function safetyNumber(
  a: Uint8Array,
  b: Uint8Array,
  digitsOf: (ik: Uint8Array) => Promise<string> = safetyDigits,
): Promise<string> {
  return formatSafetyNumber(await safetyNumberDigits(a, b, digitsOf));
}
