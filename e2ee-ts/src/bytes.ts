/**
 * Byte-level helpers (docs/e2ee.md §1.1, §1.4): hex, strict canonical base64,
 * big-endian u16/u64, len16 framing, concatenation, comparison, strict UTF-8.
 */
import { E2eeError, type E2eeErrorCode } from "./errors.js";

/** An epoch, counter or start: a JSON-safe number or a bigint, encoded as u64. */
export type U64Like = number | bigint;

const U64_MAX = (1n << 64n) - 1n;

/** Convert a number | bigint to a bigint in [0, 2^64), or throw RangeError. */
export function toU64(x: U64Like): bigint {
  let v: bigint;
  if (typeof x === "bigint") {
    v = x;
  } else {
    if (!Number.isSafeInteger(x)) throw new RangeError(`not a safe integer: ${x}`);
    v = BigInt(x);
  }
  if (v < 0n || v > U64_MAX) throw new RangeError(`out of u64 range: ${v}`);
  return v;
}

export function u8(x: number): Uint8Array {
  if (!Number.isInteger(x) || x < 0 || x > 0xff) throw new RangeError(`not a u8: ${x}`);
  return Uint8Array.of(x);
}

export function u16(x: number): Uint8Array {
  if (!Number.isInteger(x) || x < 0 || x > 0xffff) throw new RangeError(`not a u16: ${x}`);
  return Uint8Array.of(x >>> 8, x & 0xff);
}

/** u64(x): 8 bytes, unsigned, big-endian (§1.1). */
export function u64(x: U64Like): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, toU64(x), false);
  return out;
}

/** `len16(s) || s` (§1.1). Refuses (RangeError) more than 65535 bytes (§1.5). */
export function len16(s: Uint8Array): Uint8Array {
  if (s.length > 0xffff) throw new RangeError(`len16 field of ${s.length} bytes (max 65535)`);
  return concat(u16(s.length), s);
}

/** `len16(utf8(text)) || utf8(text)`. */
export function len16Str(text: string): Uint8Array {
  return len16(utf8(text));
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Lexicographic unsigned byte comparison; a proper prefix is smaller (§1.1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/** A fresh copy of `a` (Uint8Array backed by its own ArrayBuffer). */
export function copy(a: Uint8Array): Uint8Array {
  return new Uint8Array(a);
}

/** Overwrite with zeros (best effort; JS gives no guarantee). */
export function wipe(a: Uint8Array): void {
  a.fill(0);
}

// ---------------------------------------------------------------- UTF-8

const encoder = new TextEncoder();
// fatal: refuse invalid UTF-8 (like Rust str::from_utf8); ignoreBOM: keep a
// leading U+FEFF as a character instead of silently dropping it.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of `text`. Refuses lone surrogates (they have no UTF-8 form). */
export function utf8(text: string): Uint8Array {
  if (/\p{Cs}/u.test(text)) throw new RangeError("string has a lone surrogate");
  return encoder.encode(text);
}

/** Strict UTF-8 decoding; returns undefined on invalid input. */
export function utf8DecodeOrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- hex

const HEX = "0123456789abcdef";

/** Lower-case hex, two digits per byte (§1.4). */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (HEX[b >>> 4] as string) + (HEX[b & 15] as string);
  return s;
}

/** Decode lower-case hex (even length, [0-9a-f] only); throws TypeError otherwise. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    throw new TypeError(`not lower-case hex: ${JSON.stringify(hex.slice(0, 40))}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---------------------------------------------------------------- base64

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX: ReadonlyMap<string, number> = new Map(
  Array.from(B64, (c, i): [string, number] => [c, i]),
);

/** Standard padded base64 (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i] as number;
    const b1 = i + 1 < bytes.length ? (bytes[i + 1] as number) : 0;
    const b2 = i + 2 < bytes.length ? (bytes[i + 2] as number) : 0;
    const n = (b0 << 16) | (b1 << 8) | b2;
    s += B64[(n >>> 18) & 63] as string;
    s += B64[(n >>> 12) & 63] as string;
    s += i + 1 < bytes.length ? (B64[(n >>> 6) & 63] as string) : "=";
    s += i + 2 < bytes.length ? (B64[n & 63] as string) : "=";
  }
  return s;
}

/**
 * Canonical base64 decoding (§1.4): standard alphabet, padded to a multiple
 * of 4 with at most two `=` at the very end, zero unused bits, no whitespace,
 * nothing outside the alphabet. Returns undefined when the input is refused.
 */
export function fromBase64OrUndefined(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  let pad = 0;
  if (s.endsWith("==")) pad = 2;
  else if (s.endsWith("=")) pad = 1;
  const body = s.length - pad;
  const vals: number[] = [];
  for (let i = 0; i < body; i++) {
    const v = B64_INDEX.get(s.charAt(i));
    if (v === undefined) return undefined;
    vals.push(v);
  }
  // A group of 4 with 3 padding characters (or "====") is never valid.
  if (pad > 0 && body % 4 < 2) return undefined;
  const out = new Uint8Array((body * 6) >>> 3);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const v of vals) {
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) return undefined; // non-zero unused bits in the last symbol
  return out;
}

/** Canonical base64 decoding; throws E2eeError(code) when refused. */
export function fromBase64(s: string, code: E2eeErrorCode = "Malformed"): Uint8Array {
  const out = fromBase64OrUndefined(s);
  if (out === undefined) throw new E2eeError(code, { reason: "not canonical base64" });
  return out;
}

// ---------------------------------------------------------------- reader

/**
 * Strict reader for the binary layouts (§1.6). Every failure throws
 * E2eeError with the category given at construction.
 */
export class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly code: E2eeErrorCode,
  ) {}

  fail(reason: string): never {
    throw new E2eeError(this.code, { reason });
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  bytes(n: number, what: string): Uint8Array {
    if (this.remaining < n) this.fail(`${what}: truncated`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    return this.bytes(1, what)[0] as number;
  }

  u16(what: string): number {
    const b = this.bytes(2, what);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  u64(what: string): bigint {
    const b = this.bytes(8, what);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false);
  }

  /** A `len16(s) || s` field. */
  var(what: string): Uint8Array {
    return this.bytes(this.u16(`${what} length`), what);
  }

  /** A `len16` UTF-8 string field. */
  str(what: string): string {
    const s = utf8DecodeOrUndefined(this.var(what));
    if (s === undefined) this.fail(`${what}: not UTF-8`);
    return s;
  }

  /** The fixed label, byte for byte. */
  label(expected: Uint8Array, what: string): void {
    if (!equalBytes(this.bytes(expected.length, what), expected)) this.fail(`${what}: wrong`);
  }

  /** The rest of the input (for "the rest" fields). */
  rest(): Uint8Array {
    return this.bytes(this.remaining, "rest");
  }

  /** Refuse trailing bytes. */
  end(what: string): void {
    if (this.remaining !== 0) this.fail(`${what}: ${this.remaining} trailing bytes`);
  }
}
