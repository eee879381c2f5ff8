/**
 * The signed Hello and the key bundle (docs/e2ee.md §5).
 */
import {
  Reader,
  concat,
  equalBytes,
  fromBase64OrUndefined,
  len16Str,
  toBase64,
  toU64,
  u64,
  type U64Like,
} from "./bytes.js";
import { E2eeError, type E2eeErrorCode } from "./errors.js";
import { parseJson, type JsonValue } from "./json.js";
import { BUNDLE_VERSION, LABEL_HELLO } from "./labels.js";
import {
  ed25519Public,
  ed25519Sign,
  ed25519VerifyStrict,
  isEd25519Point,
  sha256,
} from "./primitives.js";

/** The eight fields of a Hello (§5.1). */
export interface Hello {
  readonly visit: string;
  readonly epoch: bigint;
  readonly member: string;
  /** 32-byte Ed25519 identity key. */
  readonly ik: Uint8Array;
  /** 32-byte X25519 ephemeral public key of this epoch. */
  readonly ephemeral: Uint8Array;
  /** DTLS fingerprint text as signed (§5.2), "" without media. */
  readonly dtls: string;
  /** 32-byte roster hash (§3). */
  readonly rosterHash: Uint8Array;
}

/** A Hello to encode; the epoch may be a number or a bigint. */
export type HelloFields = Omit<Hello, "epoch"> & { readonly epoch: U64Like };

/** A Hello with its exact signed bytes and its 64-byte signature. */
export interface SignedHello {
  readonly hello: Hello;
  /** Hello_bytes (§5.1). */
  readonly bytes: Uint8Array;
  /** Ed25519 signature over `bytes` (§5.3). */
  readonly signature: Uint8Array;
}

/** Hello_bytes = label || len16 V || u64 e || len16 M || IK || E || len16 dtls || R (§5.1). */
export function encodeHello(h: HelloFields): Uint8Array {
  if (h.ik.length !== 32) throw new RangeError("IK must be 32 bytes");
  if (h.ephemeral.length !== 32) throw new RangeError("E must be 32 bytes");
  if (h.rosterHash.length !== 32) throw new RangeError("roster hash must be 32 bytes");
  return concat(
    LABEL_HELLO,
    len16Str(h.visit),
    u64(h.epoch),
    len16Str(h.member),
    h.ik,
    h.ephemeral,
    len16Str(h.dtls),
    h.rosterHash,
  );
}

/**
 * Decode Hello_bytes strictly (§5.1, §1.6): wrong label, truncation,
 * non-UTF-8 strings, an IK that is not an Ed25519 point, trailing bytes
 * all throw E2eeError(`code`).
 */
export function decodeHello(bytes: Uint8Array, code: E2eeErrorCode = "Hello(Malformed)"): Hello {
  const r = new Reader(bytes, code);
  r.label(LABEL_HELLO, "Hello label");
  const visit = r.str("visit id");
  const epoch = r.u64("epoch");
  const member = r.str("participant id");
  const ik = r.bytes(32, "IK");
  const ephemeral = r.bytes(32, "E");
  const dtls = r.str("dtls");
  const rosterHash = r.bytes(32, "roster hash");
  r.end("Hello");
  if (!isEd25519Point(ik)) r.fail("IK is not an Ed25519 point");
  return { visit, epoch, member, ik, ephemeral, dtls, rosterHash };
}

/** Encode and sign a Hello (§5.3). Refuses an IK that is not the key of `ikSecret`. */
export function signHello(ikSecret: Uint8Array, h: HelloFields): SignedHello {
  if (!equalBytes(ed25519Public(ikSecret), h.ik)) {
    throw new RangeError("the Hello's IK is not the public key of the signing secret");
  }
  const bytes = encodeHello(h);
  return {
    hello: { ...h, epoch: toU64(h.epoch) },
    bytes,
    signature: ed25519Sign(ikSecret, bytes),
  };
}

/**
 * Decode and strictly verify a signed Hello (§5.3) with the IK inside it.
 * Errors: `malformed` for a layout error (default Hello(Malformed)),
 * `badSignature` when the signature does not verify (default Hello(BadSignature)).
 */
export async function verifyHello(
  bytes: Uint8Array,
  signature: Uint8Array,
  malformed: E2eeErrorCode = "Hello(Malformed)",
  badSignature: E2eeErrorCode = "Hello(BadSignature)",
): Promise<SignedHello> {
  const hello = decodeHello(bytes, malformed);
  if (signature.length !== 64) throw new E2eeError(malformed, { reason: "signature length" });
  if (!(await ed25519VerifyStrict(hello.ik, bytes, signature))) {
    throw new E2eeError(badSignature);
  }
  return { hello, bytes: new Uint8Array(bytes), signature: new Uint8Array(signature) };
}

/** §5.3 context check: V = own visit and M = the hub's `from`, else Hello(WrongContext). */
export function checkHelloContext(
  h: SignedHello,
  visit: string,
  from: string,
  code: E2eeErrorCode = "Hello(WrongContext)",
): void {
  if (h.hello.visit !== visit || h.hello.member !== from) throw new E2eeError(code);
}

/** SHA-256(Hello_bytes) (§5.3), signature not included. */
export async function helloDigest(h: SignedHello | Uint8Array): Promise<Uint8Array> {
  return sha256(h instanceof Uint8Array ? h : h.bytes);
}

// ---------------------------------------------------------------- bundle (§5.4)

/** `{"v":1,"ik":…,"hello":…,"sig":…}`, compact, members in this order (§5.4). */
export function bundleToJson(h: SignedHello): string {
  return (
    `{"v":${BUNDLE_VERSION},"ik":"${toBase64(h.hello.ik)}",` +
    `"hello":"${toBase64(h.bytes)}","sig":"${toBase64(h.signature)}"}`
  );
}

function malformed(reason: string): never {
  throw new E2eeError("Hello(Malformed)", { reason });
}

/**
 * Parse and verify a bundle given as JSON text (§5.4, §5.3). Refusals, in
 * this order: not a JSON object, a repeated v/ik/hello/sig, a missing one or
 * one of the wrong JSON type, v ≠ 1, non-canonical base64, sig not 64 bytes,
 * a malformed Hello → Hello(Malformed); the signature does not verify under
 * the Hello's IK → Hello(BadSignature); the `ik` bytes differ from the
 * Hello's IK → Hello(Malformed). Unknown members are ignored. The context
 * (§5.3, Hello(WrongContext)) is checked by `checkHelloContext`.
 */
export async function bundleFromJson(text: string): Promise<SignedHello> {
  let root: JsonValue;
  try {
    root = parseJson(text);
  } catch {
    malformed("not JSON");
  }
  if (root.kind !== "object") malformed("not a JSON object");
  const known = new Map<string, JsonValue>();
  for (const [k, v] of root.members) {
    if (k === "v" || k === "ik" || k === "hello" || k === "sig") {
      if (known.has(k)) malformed(`repeated member ${k}`);
      known.set(k, v);
    }
  }
  const v = known.get("v");
  if (v === undefined || v.kind !== "number") malformed("v is not a number");
  // §5.4 says "numeric v" and "v ≠ 1"; an integer literal 1 is required here
  // (1.0 / 1e0 are refused).
  if (v.text !== String(BUNDLE_VERSION)) malformed("v ≠ 1");
  const field = (name: string): string => {
    const f = known.get(name);
    if (f === undefined || f.kind !== "string") malformed(`${name} is not a string`);
    return f.value;
  };
  const ikText = field("ik");
  const helloText = field("hello");
  const sigText = field("sig");
  const ik = fromBase64OrUndefined(ikText);
  const helloBytes = fromBase64OrUndefined(helloText);
  const sig = fromBase64OrUndefined(sigText);
  if (ik === undefined || helloBytes === undefined || sig === undefined) {
    malformed("not canonical base64");
  }
  if (sig.length !== 64) malformed("sig is not 64 bytes");
  const signed = await verifyHello(helloBytes, sig);
  if (!equalBytes(ik, signed.hello.ik)) malformed("ik differs from the Hello's IK");
  return signed;
}
