/**
 * Primitives of docs/e2ee.md §1.3. Hashes, HMAC and HKDF use WebCrypto
 * (`globalThis.crypto.subtle`); Ed25519/X25519 use @noble/curves,
 * ChaCha20-Poly1305 uses @noble/ciphers. Ed25519 verification is the strict
 * rule of §1.3, written out here rather than delegated.
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { concat, equalBytes } from "./bytes.js";
import { E2eeError } from "./errors.js";

const subtle = globalThis.crypto.subtle;

/** A copy whose buffer is a plain ArrayBuffer (what WebCrypto's types want). */
function buf(a: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(a.length));
  out.set(a);
  return out;
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest("SHA-256", buf(data)));
}

export async function sha512(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest("SHA-512", buf(data)));
}

export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle.importKey("raw", buf(key), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await subtle.sign("HMAC", k, buf(data)));
}

/** HKDF-SHA-256 (RFC 5869) Extract then Expand, L bytes (WebCrypto). */
export async function hkdf(
  salt: Uint8Array,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const k = await subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) },
    k,
    length * 8,
  );
  return new Uint8Array(bits);
}

/**
 * HKDF-Expand only, L = 32 (§1.3): HMAC-SHA-256(PRK, info || 0x01).
 * WebCrypto has no Expand-only HKDF, so it is written with HMAC.
 */
export async function hkdfExpand32(prk: Uint8Array, info: Uint8Array): Promise<Uint8Array> {
  return hmacSha256(prk, concat(info, Uint8Array.of(1)));
}

// ---------------------------------------------------------------- X25519

/** X25519(secret, 9): the public key of a 32-byte secret (clamped at use). */
export function x25519Public(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new RangeError("X25519 secret must be 32 bytes");
  return x25519.getPublicKey(secret);
}

/**
 * X25519(secret, peer). An all-zero result (a low-order peer key) is refused
 * with `Pair(NonContributory)` (§1.3). The MSB of `peer` is ignored.
 */
export function x25519Shared(secret: Uint8Array, peer: Uint8Array): Uint8Array {
  if (secret.length !== 32 || peer.length !== 32) throw new RangeError("X25519 needs 32 bytes");
  let out: Uint8Array;
  try {
    out = x25519.getSharedSecret(secret, peer);
  } catch {
    // noble refuses exactly the low-order u-coordinates (which give the
    // all-zero output for every clamped secret) before the ladder.
    throw new E2eeError("Pair(NonContributory)");
  }
  if (out.every((b) => b === 0)) throw new E2eeError("Pair(NonContributory)");
  return out;
}

// ---------------------------------------------------------------- Ed25519

const Point = ed25519.Point;
type EdPoint = InstanceType<typeof Point>;

/** L = 2^252 + 27742317777372353535851937790883648493. */
export const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;

function leToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
  return v;
}

/** Little-endian 32-byte encoding of 0 <= v < 2^256. */
export function bigintToLe32(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError("does not fit in 32 bytes");
  return out;
}

export function leBytesToBigint(b: Uint8Array): bigint {
  return leToBigint(b);
}

/**
 * Decode 32 bytes as an Edwards point with RFC 8032 §5.1.3 decompression
 * (§1.3 step 1), or undefined. This is the strict RFC decoder: it refuses a
 * non-canonical y (y >= p) and x = 0 with the sign bit set, as §1.3 step 1
 * requires (vector `bundle_noncanonical_identity`).
 */
export function decodePoint(bytes: Uint8Array): EdPoint | undefined {
  if (bytes.length !== 32) return undefined;
  try {
    return Point.fromBytes(bytes, false);
  } catch {
    return undefined;
  }
}

/** True if `bytes` decode as an Ed25519 point (§2, §1.3 step 1). */
export function isEd25519Point(bytes: Uint8Array): boolean {
  return decodePoint(bytes) !== undefined;
}

/** RFC 8032 public key of a 32-byte seed. */
export function ed25519Public(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
  return ed25519.getPublicKey(seed);
}

/** Deterministic RFC 8032 signature, 64 bytes R || S. */
export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
  return ed25519.sign(message, seed);
}

/**
 * Strict verification, exactly the six conditions of §1.3:
 * A decodes and is not of small order; S < L; R decodes and is not of small
 * order; k = SHA-512(R || A || M) mod L over the bytes as received;
 * encode([S]B - [k]A) == R byte for byte (cofactorless).
 */
export async function ed25519VerifyStrict(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const A = decodePoint(publicKey);
  if (A === undefined || A.isSmallOrder()) return false;
  const rBytes = signature.subarray(0, 32);
  const S = leToBigint(signature.subarray(32, 64));
  if (S >= ED25519_L) return false;
  const R = decodePoint(rBytes);
  if (R === undefined || R.isSmallOrder()) return false;
  const k = leToBigint(await sha512(concat(rBytes, publicKey, message))) % ED25519_L;
  const check = Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k));
  return equalBytes(check.toBytes(), rBytes);
}

// ---------------------------------------------------------------- AEAD

/** ChaCha20-Poly1305 (RFC 8439): returns C || T. */
export function aeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  if (key.length !== 32 || nonce.length !== 12) throw new RangeError("AEAD key/nonce size");
  return chacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

/** ChaCha20-Poly1305 open; undefined on any failure (nothing is returned). */
export function aeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
): Uint8Array | undefined {
  if (key.length !== 32 || nonce.length !== 12) throw new RangeError("AEAD key/nonce size");
  if (ciphertext.length < 16) return undefined;
  try {
    return chacha20poly1305(key, nonce, ad).decrypt(ciphertext);
  } catch {
    return undefined;
  }
}

/** `n` bytes from the platform CSPRNG (crypto.getRandomValues). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues is limited to 65536 bytes per call.
  for (let o = 0; o < n; o += 65536) {
    globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  }
  return out;
}
