import { test } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  E2eeError,
  ED25519_L,
  MAX_SKIP,
  ReceivingChain,
  SendingChain,
  bundleFromJson,
  bundleToJson,
  checkSdpFingerprint,
  concat,
  decodeHello,
  ed25519Sign,
  ed25519VerifyStrict,
  encodeHello,
  fromBase64OrUndefined,
  fromHex,
  identityPublic,
  nextChainKey,
  normalizeFingerprint,
  openChat,
  openKeyMessage,
  parseChatBody,
  parseKeyMessage,
  rosterHash,
  safetyNumber,
  sealChat,
  sealKeyMessage,
  sha512,
  signHello,
  toBase64,
  toHex,
  u64,
  utf8,
  x25519Public,
  type ChainContext,
  type E2eeErrorCode,
} from "../src/index.js";
import { bigintToLe32, leBytesToBigint } from "../src/primitives.js";

async function refuses(code: E2eeErrorCode, f: () => Promise<unknown>): Promise<void> {
  await assert.rejects(f, (e: unknown) => {
    assert.ok(e instanceof E2eeError, `not an E2eeError: ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const IDENTITY_POINT = concat(Uint8Array.of(1), new Uint8Array(31));
const msg = utf8("a message");

// ---------------------------------------------------------------- strict Ed25519 (§1.3)

test("strict verification accepts a valid signature", async () => {
  const sk = seed(0x11);
  assert.ok(await ed25519VerifyStrict(identityPublic(sk), msg, ed25519Sign(sk, msg)));
  assert.ok(!(await ed25519VerifyStrict(identityPublic(sk), utf8("other"), ed25519Sign(sk, msg))));
});

test("strict verification refuses S + L", async () => {
  const sk = seed(0x11);
  const sig = ed25519Sign(sk, msg);
  const s = leBytesToBigint(sig.subarray(32)) + ED25519_L;
  const bad = concat(sig.subarray(0, 32), bigintToLe32(s));
  assert.ok(!(await ed25519VerifyStrict(identityPublic(sk), msg, bad)));
});

test("strict verification refuses a small-order A (the identity point)", async () => {
  // R = identity, S = 0: [0]B - [k]identity = identity = R for ANY message.
  const sig = concat(IDENTITY_POINT, new Uint8Array(32));
  // a lax (ZIP-215) verifier accepts it, which is what makes the test meaningful
  assert.ok(ed25519.verify(sig, msg, IDENTITY_POINT, { zip215: true }));
  assert.ok(!(await ed25519VerifyStrict(IDENTITY_POINT, msg, sig)));
  // same for the order-2 point (y = -1)
  const order2 = fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  assert.ok(!(await ed25519VerifyStrict(order2, msg, sig)));
});

test("strict verification refuses a small-order R", async () => {
  // With R = identity, choose S = k·a so that [S]B - [k]A = identity = R.
  const sk = seed(0x22);
  const A = identityPublic(sk);
  const { scalar } = ed25519.utils.getExtendedPublicKey(sk);
  const k = leBytesToBigint(await sha512(concat(IDENTITY_POINT, A, msg))) % ED25519_L;
  const S = (k * scalar) % ED25519_L;
  const sig = concat(IDENTITY_POINT, bigintToLe32(S));
  // the cofactorless equation holds ...
  const P = ed25519.Point;
  const lhs = P.BASE.multiplyUnsafe(S).subtract(P.fromBytes(A).multiplyUnsafe(k));
  assert.equal(toHex(lhs.toBytes()), toHex(IDENTITY_POINT));
  // ... and only the small-order check on R refuses it
  assert.ok(!(await ed25519VerifyStrict(A, msg, sig)));
});

test("a non-canonical IK (y >= p) is not a point for a Hello", () => {
  const nonCanonical = concat(
    Uint8Array.of(0xee),
    new Uint8Array(30).fill(0xff),
    Uint8Array.of(0x7f),
  );
  const bytes = encodeHello({
    visit: "v",
    epoch: 1,
    member: "m",
    ik: nonCanonical,
    ephemeral: new Uint8Array(32),
    dtls: "",
    rosterHash: new Uint8Array(32),
  });
  assert.throws(
    () => decodeHello(bytes),
    (e: unknown) => e instanceof E2eeError && e.code === "Hello(Malformed)",
  );
});

// ---------------------------------------------------------------- canonical base64 (§1.4)

test("canonical base64 accepts canonical input", () => {
  assert.deepEqual(fromBase64OrUndefined(""), new Uint8Array());
  assert.deepEqual(fromBase64OrUndefined("QQ=="), utf8("A"));
  assert.deepEqual(fromBase64OrUndefined("QUI="), utf8("AB"));
  assert.deepEqual(fromBase64OrUndefined("QUJD"), utf8("ABC"));
  assert.deepEqual(fromBase64OrUndefined("+/+/"), Uint8Array.of(0xfb, 0xff, 0xbf));
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromBase64OrUndefined(toBase64(all)), all);
});

test("canonical base64 refuses missing or excess padding", () => {
  for (const s of ["QQ", "QQ=", "QUI", "QQ===", "QUI==", "QUJD=", "====", "Q===", "QQ==QQ=="]) {
    assert.equal(fromBase64OrUndefined(s), undefined, s);
  }
});

test("canonical base64 refuses non-zero trailing bits", () => {
  for (const s of ["QR==", "QX==", "QUJ=", "QUK="])
    assert.equal(fromBase64OrUndefined(s), undefined, s);
});

test("canonical base64 refuses whitespace and characters outside the alphabet", () => {
  for (const s of [
    "QQ== ",
    " QQ==",
    "Q Q=",
    "QQ==\n",
    "QU\nJD",
    "QUJ\t",
    "QQ-_",
    "QQ!=",
    "QUJ\u00e9",
  ]) {
    assert.equal(fromBase64OrUndefined(s), undefined, JSON.stringify(s));
  }
});

// ---------------------------------------------------------------- receiving chain (§8.3)

const ctx: ChainContext = {
  visit: "v-1",
  epoch: 7,
  member: "dr-ada",
  rosterHash: new Uint8Array(32),
};

async function sealN(n: number, ck0 = seed(0xc5)): Promise<Uint8Array[]> {
  const sc = new SendingChain(ctx, ck0);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push((await sc.seal(utf8(`m${i}`))).ciphertext);
  return out;
}

test("receiving chain: any order within the window opens every message once; replays refused", async () => {
  const cts = await sealN(6);
  const rc = new ReceivingChain(ctx, seed(0xc5));
  for (const i of [3, 0, 5, 1, 4, 2]) {
    assert.equal(new TextDecoder().decode(await rc.open(i, cts[i] as Uint8Array)), `m${i}`);
  }
  for (let i = 0; i < 6; i++)
    await refuses("Chain(Replay)", () => rc.open(i, cts[i] as Uint8Array));
  assert.deepEqual(rc.skippedCounters, []);
  assert.equal(rc.next, 6n);
});

test("receiving chain: 1000 ahead is accepted, 1001 ahead refused without change", async () => {
  const cts = await sealN(MAX_SKIP + 2);
  const rc = new ReceivingChain(ctx, seed(0xc5));
  await refuses("Chain(TooFarAhead)", () => rc.open(MAX_SKIP + 1, cts[MAX_SKIP + 1] as Uint8Array));
  assert.equal(rc.next, 0n);
  assert.equal(rc.skippedCounters.length, 0);
  // nothing changed: message 0 still opens, and then 1001 is exactly 1000 ahead
  await rc.open(0, cts[0] as Uint8Array);
  await rc.open(MAX_SKIP + 1, cts[MAX_SKIP + 1] as Uint8Array);
  assert.equal(rc.skippedCounters.length, MAX_SKIP);
  for (let i = 1; i <= MAX_SKIP; i += 333) await rc.open(i, cts[i] as Uint8Array);
});

test("the last counter is refused on both sides (a chain may start anywhere)", async () => {
  const last = (1n << 64n) - 1n;
  const sc = new SendingChain(ctx, seed(0xc5), last);
  await refuses("Chain(Exhausted)", () => sc.seal(utf8("x")));
  // The receiver refuses the counter before it looks at the ciphertext.
  const rc = new ReceivingChain(ctx, seed(0xc5), last);
  await refuses("Chain(Exhausted)", () => rc.open(last, new Uint8Array(17)));
  assert.equal(rc.next, last);
});

test("receiving chain: more than 1000 skipped keys evicts the lowest", async () => {
  const cts = await sealN(MAX_SKIP + 3);
  const rc = new ReceivingChain(ctx, seed(0xc5));
  await rc.open(MAX_SKIP, cts[MAX_SKIP] as Uint8Array); // skips 0..999 (1000 keys)
  await rc.open(MAX_SKIP + 2, cts[MAX_SKIP + 2] as Uint8Array); // +1001 -> evict 0
  assert.equal(rc.skippedCounters.length, MAX_SKIP);
  await refuses("Chain(Replay)", () => rc.open(0, cts[0] as Uint8Array));
  await rc.open(1, cts[1] as Uint8Array);
  await rc.open(MAX_SKIP + 1, cts[MAX_SKIP + 1] as Uint8Array);
});

test("receiving chain: a tampered message burns no key", async () => {
  const cts = await sealN(12);
  const rc = new ReceivingChain(ctx, seed(0xc5));
  const tamper = (c: Uint8Array): Uint8Array => {
    const t = new Uint8Array(c);
    t[0] = (t[0] as number) ^ 0x80;
    return t;
  };
  // ahead of next: nothing is derived into the cache, next does not move
  await refuses("Chain(Decrypt)", () => rc.open(10, tamper(cts[10] as Uint8Array)));
  assert.equal(rc.next, 0n);
  assert.deepEqual(rc.skippedCounters, []);
  // wrong context (another counter's ciphertext) is also a Decrypt and changes nothing
  await refuses("Chain(Decrypt)", () => rc.open(4, cts[5] as Uint8Array));
  assert.equal(rc.next, 0n);
  await rc.open(5, cts[5] as Uint8Array);
  // a skipped key survives a tampered copy of its message
  await refuses("Chain(Decrypt)", () => rc.open(2, tamper(cts[2] as Uint8Array)));
  assert.deepEqual(rc.skippedCounters, [0n, 1n, 2n, 3n, 4n]);
  for (const i of [2, 0, 1, 3, 4, 10, 6]) await rc.open(i, cts[i] as Uint8Array);
});

test("receiving chain at start 3: earlier counters are replays", async () => {
  const cts = await sealN(5, seed(0xd6));
  let ck3 = seed(0xd6);
  for (let i = 0; i < 3; i++) ck3 = await nextChainKey(ck3);
  const rc = new ReceivingChain(ctx, ck3, 3);
  await rc.open(4, cts[4] as Uint8Array);
  await rc.open(3, cts[3] as Uint8Array);
  for (const i of [0, 1, 2]) await refuses("Chain(Replay)", () => rc.open(i, cts[i] as Uint8Array));
});

// ---------------------------------------------------------------- roster hash (§3)

test("roster hash ignores order and duplicates and frames ids", async () => {
  const h = toHex(await rosterHash(["dr-ada", "pt-1"]));
  assert.equal(toHex(await rosterHash(["pt-1", "dr-ada"])), h);
  assert.equal(toHex(await rosterHash(["pt-1", "dr-ada", "pt-1", "dr-ada"])), h);
  assert.notEqual(toHex(await rosterHash(["ab"])), toHex(await rosterHash(["a", "b"])));
  assert.notEqual(toHex(await rosterHash(["a"])), toHex(await rosterHash(["a", ""])));
  // bytewise order: "Z" (0x5a) < "a" (0x61); "a" < "ab" (a prefix is smaller)
  assert.equal(
    toHex(await rosterHash(["a", "Z", "ab"])),
    toHex(await rosterHash(["ab", "a", "Z"])),
  );
});

// ---------------------------------------------------------------- Hello, bundle, key message, chat

const V = "v-test";
function mkHello(ikSeed: number, member: string, epoch: number, eph: Uint8Array) {
  const sk = seed(ikSeed);
  return signHello(sk, {
    visit: V,
    epoch,
    member,
    ik: identityPublic(sk),
    ephemeral: x25519Public(eph),
    dtls: "sha-256 AB:CD",
    rosterHash: new Uint8Array(32).fill(9),
  });
}

test("bundle JSON: round trip; refusals of §5.4", async () => {
  const h = mkHello(1, "m-1", 5, seed(3));
  const json = bundleToJson(h);
  assert.equal(toHex((await bundleFromJson(json)).bytes), toHex(h.bytes));
  const o = JSON.parse(json) as Record<string, unknown>;
  // unknown members are ignored; whitespace is JSON
  assert.ok(await bundleFromJson(JSON.stringify({ ...o, extra: [1, { a: null }] }, null, 1)));
  const bad = [
    "[]",
    "1",
    "{",
    json.replace('"v":1', '"v":2'),
    json.replace('"v":1', '"v":"1"'),
    json.replace('"v":1', '"v":1.0'),
    json.replace('"v":1,', ""),
    json.replace('"v":1,', '"v":1,"v":1,'),
    json.replace("}", `,"sig":"${toBase64(h.signature)}"}`),
    json.replace(
      `"sig":"${toBase64(h.signature)}"`,
      `"sig":"${toBase64(h.signature.subarray(0, 63))}"`,
    ),
    json.replace(`"ik":"${toBase64(h.hello.ik)}"`, `"ik":"${toBase64(identityPublic(seed(2)))}"`),
    json.replace(
      `"hello":"${toBase64(h.bytes)}"`,
      `"hello":"${toBase64(concat(h.bytes, Uint8Array.of(0)))}"`,
    ),
    json + "x",
  ];
  for (const b of bad) await refuses("Hello(Malformed)", () => bundleFromJson(b));
  const sig = new Uint8Array(h.signature);
  sig[0] = (sig[0] as number) ^ 1;
  await refuses("Hello(BadSignature)", () =>
    bundleFromJson(bundleToJson({ ...h, signature: sig })),
  );
});

test("Hello decoding refuses truncation, trailing bytes, bad UTF-8, a wrong label", () => {
  const h = mkHello(1, "m-1", 5, seed(3));
  const mal = (b: Uint8Array): void =>
    assert.throws(
      () => decodeHello(b),
      (e: unknown) => e instanceof E2eeError && e.code === "Hello(Malformed)",
    );
  mal(h.bytes.subarray(0, h.bytes.length - 1));
  mal(concat(h.bytes, Uint8Array.of(0)));
  const label = new Uint8Array(h.bytes);
  label[0] = 0x42;
  mal(label);
  const utf = new Uint8Array(h.bytes);
  utf[18] = 0xff; // first byte of the visit id
  mal(utf);
  assert.equal(decodeHello(h.bytes).epoch, 5n);
});

test("key message: seal, open from both orders of ids, 40-byte plaintext, tag flip", async () => {
  const a = mkHello(1, "zed", 10, seed(3)); // the higher id sends
  const b = mkHello(2, "amy", 20, seed(4));
  const ck = seed(0x77);
  const body = await sealKeyMessage({
    sender: a,
    senderSecret: seed(3),
    recipient: b,
    start: 9n,
    chainKey: ck,
    nonce: new Uint8Array(12).fill(1),
  });
  const parsed = await parseKeyMessage(body);
  assert.equal(parsed.recipientEpoch, 20n);
  const g = await openKeyMessage(parsed, b, seed(4));
  assert.equal(g.start, 9n);
  assert.equal(toHex(g.chainKey), toHex(ck));
  const flipped = new Uint8Array(body);
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
  await refuses("Pair(Decrypt)", async () =>
    openKeyMessage(await parseKeyMessage(flipped), b, seed(4)),
  );
  await refuses("Pair(Malformed)", () =>
    parseKeyMessage(concat(Uint8Array.of(3), body.subarray(1))),
  );
  await refuses("Pair(Malformed)", () => parseKeyMessage(body.subarray(0, 100)));
  await refuses("StaleKey", () => openKeyMessage(parsed, mkHello(2, "amy", 21, seed(4)), seed(4)));
});

test("chat: the signature is checked before decryption and touches no chain", async () => {
  const sk = seed(5);
  const cctx: ChainContext = { visit: V, epoch: 3n, member: "dr", rosterHash: new Uint8Array(32) };
  const sc = new SendingChain(cctx, seed(6));
  const id = new Uint8Array(16).fill(7);
  const body = await sealChat(sc, sk, id, "héllo");
  const rc = new ReceivingChain(cctx, seed(6));
  const t = new Uint8Array(body);
  t[t.length - 1] = (t[t.length - 1] as number) ^ 1;
  await refuses("BadSignature", () => openChat(parseChatBody(t), rc, identityPublic(sk)));
  await refuses("BadSignature", () => openChat(parseChatBody(body), rc, identityPublic(seed(8))));
  assert.equal(rc.next, 0n);
  const c = await openChat(parseChatBody(body), rc, identityPublic(sk));
  assert.equal(c.text, "héllo");
  assert.equal(toHex(c.messageId), toHex(id));
  assert.throws(
    () => parseChatBody(body.subarray(0, 80)),
    (e: unknown) => e instanceof E2eeError && e.code === "Malformed",
  );
  assert.deepEqual(u64(2n ** 64n - 1n), new Uint8Array(8).fill(0xff));
});

test("safety number is symmetric and 71 characters", async () => {
  const a = identityPublic(seed(1));
  const b = identityPublic(seed(2));
  const n = await safetyNumber(a, b);
  assert.equal(n, await safetyNumber(b, a));
  assert.match(n, /^[0-9]{5}( [0-9]{5}){11}$/);
});

// ---------------------------------------------------------------- SDP fingerprint (§12.5)

test("SDP fingerprint check normalises both sides and needs every line to match", () => {
  const dtls = "sha-256 AB:CD:EF";
  const ok =
    "v=0\r\na=fingerprint:SHA-256 ab:cd:ef  \r\nm=audio\r\na=fingerprint:sha-256 AB:CD:EF extra\r\n";
  checkSdpFingerprint(ok, dtls, "p");
  assert.equal(normalizeFingerprint("  SHA-256\tab:cd  x"), "sha-256 AB:CD");
  assert.equal(normalizeFingerprint("sha-256"), "");
  const mismatch = (sdp: string, d = dtls): void =>
    assert.throws(
      () => checkSdpFingerprint(sdp, d, "p"),
      (e: unknown) =>
        e instanceof E2eeError && e.code === "FingerprintMismatch" && e.participant === "p",
    );
  mismatch("v=0\r\na=fingerprint:sha-256 AB:CD:EF\r\na=fingerprint:sha-256 AB:CD:00\r\n");
  mismatch("v=0\r\nm=audio\r\n");
  mismatch("a=fingerprint:sha-256 AB:CD:EF\r\n", "");
  // A second fingerprint spelled so that an exact prefix match would miss it.
  for (const spelling of [" a=fingerprint:", "\ta=fingerprint:", "A=Fingerprint:"]) {
    mismatch(`v=0\r\na=fingerprint:sha-256 AB:CD:EF\r\n${spelling}sha-256 AB:CD:00\r\n`);
  }
});
