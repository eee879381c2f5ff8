/**
 * checkVectors: recompute and check every field of the v2 vectors
 * (`client-sdk/tests/vectors/e2ee.json`, format "bedside-e2ee-vectors-2").
 * Throws on the first mismatch with a message naming the field.
 */
import {
  E2eeError,
  ED25519_L,
  ReceivingChain,
  SendingChain,
  bundleFromJson,
  bundleToJson,
  chainSeal,
  chatAd,
  checkHelloContext,
  decodeHello,
  encodeHello,
  equalBytes,
  fingerprint,
  fromHex,
  identityPublic,
  keyAdFor,
  keyPlaintext,
  messageKey,
  nextChainKey,
  openChat,
  openKeyMessage,
  pairwise,
  parseChatBody,
  parseKeyMessage,
  rosterHash,
  safetyDigits,
  safetyNumber,
  sealChat,
  sealKeyMessage,
  sha256,
  signHello,
  toBase64,
  toHex,
  x25519Public,
  type ChainContext,
  type SignedHello,
} from "../src/index.js";
import { bigintToLe32, leBytesToBigint } from "../src/primitives.js";
import { concat, len16, u64, u8 } from "../src/bytes.js";

export const FORMAT = "bedside-e2ee-vectors-2";

// ---------------------------------------------------------------- strict field access

class VectorError extends Error {}

function fail(path: string, what: string): never {
  throw new VectorError(`${path}: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON object whose members must all be read (done() refuses leftovers). */
class Obj {
  private readonly read = new Set<string>();
  constructor(
    readonly path: string,
    private readonly v: Record<string, unknown>,
  ) {}

  static of(path: string, v: unknown): Obj {
    if (!isRecord(v)) fail(path, "expected an object");
    return new Obj(path, v);
  }

  at(k: string): string {
    return `${this.path}.${k}`;
  }

  has(k: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.v, k);
  }

  keys(): string[] {
    return Object.keys(this.v);
  }

  raw(k: string): unknown {
    if (!this.has(k)) fail(this.at(k), "missing");
    this.read.add(k);
    return this.v[k];
  }

  str(k: string): string {
    const v = this.raw(k);
    if (typeof v !== "string") fail(this.at(k), "expected a string");
    return v;
  }

  hex(k: string, len?: number): Uint8Array {
    const s = this.str(k);
    let b: Uint8Array;
    try {
      b = fromHex(s);
    } catch {
      fail(this.at(k), "not lower-case hex");
    }
    if (len !== undefined && b.length !== len) {
      fail(this.at(k), `expected ${len} bytes, got ${b.length}`);
    }
    return b;
  }

  num(k: string): bigint {
    const v = this.raw(k);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      fail(this.at(k), "expected a non-negative integer");
    }
    return BigInt(v);
  }

  list(k: string): unknown[] {
    const v = this.raw(k);
    if (!Array.isArray(v)) fail(this.at(k), "expected an array");
    return v;
  }

  strs(k: string): string[] {
    return this.list(k).map((x, i) => {
      if (typeof x !== "string") fail(`${this.at(k)}[${i}]`, "expected a string");
      return x;
    });
  }

  objs(k: string): Obj[] {
    return this.list(k).map((x, i) => Obj.of(`${this.at(k)}[${i}]`, x));
  }

  obj(k: string): Obj {
    return Obj.of(this.at(k), this.raw(k));
  }

  /** Refuse members that no check read. */
  done(): void {
    for (const k of Object.keys(this.v)) {
      if (!this.read.has(k)) fail(this.at(k), "unknown field (not checked by anything)");
    }
  }
}

function eqHex(path: string, got: Uint8Array, want: Uint8Array): void {
  if (!equalBytes(got, want)) {
    fail(path, `mismatch\n  computed ${toHex(got)}\n  expected ${toHex(want)}`);
  }
}

function eqStr(path: string, got: string, want: string): void {
  if (got !== want) fail(path, `mismatch\n  computed ${got}\n  expected ${want}`);
}

function eqBig(path: string, got: bigint, want: bigint): void {
  if (got !== want) fail(path, `mismatch: computed ${got}, expected ${want}`);
}

/** Run f and require an E2eeError with exactly `code`. */
async function expectRefusal(path: string, code: string, f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof E2eeError) {
      if (e.code !== code) fail(path, `refused with ${e.code}, expected ${code} (${e.message})`);
      return;
    }
    throw e;
  }
  fail(path, `accepted, expected refusal ${code}`);
}

// ---------------------------------------------------------------- model

interface Ident {
  readonly secret: Uint8Array;
  readonly public: Uint8Array;
}

/** One Hello this checker holds with its X25519 secret. */
interface OwnHello {
  readonly signed: SignedHello;
  readonly secret: Uint8Array;
}

/** Per-member receiving state of the exchange, following §12.3/§12.4 (no clock). */
class Receiver {
  readonly pins = new Map<string, Uint8Array>();
  readonly newest = new Map<string, bigint>();
  readonly digest = new Map<string, Uint8Array>();
  readonly chains = new Map<string, Map<bigint, ReceivingChain>>();
  readonly pending: Array<{ from: string; body: Uint8Array; tag: number }> = [];
  readonly seen = new Set<string>();

  constructor(
    readonly id: string,
    readonly visit: string,
    /** Own Hellos by epoch. */
    readonly own: Map<bigint, OwnHello>,
  ) {}

  private pin(from: string, ik: Uint8Array): void {
    const p = this.pins.get(from);
    if (p === undefined) this.pins.set(from, ik);
    else if (!equalBytes(p, ik)) throw new E2eeError("IdentityChanged", { participant: from });
  }

  /** §12.3. Returns true when a chain was installed, false for a silent duplicate. */
  async receiveKey(from: string, body: Uint8Array): Promise<boolean> {
    const msg = await parseKeyMessage(body); // 1
    const d = await sha256(body);
    const prev = this.digest.get(from);
    if (prev !== undefined && equalBytes(prev, d)) return false; // 2
    checkHelloContext(msg.sender, this.visit, from, "WrongSender"); // 3
    this.pin(from, msg.sender.hello.ik); // 4
    const own = this.own.get(msg.recipientEpoch); // 5
    if (own === undefined) throw new E2eeError("StaleKey");
    const grant = await openKeyMessage(msg, own.signed, own.secret); // 6
    const eA = msg.sender.hello.epoch;
    const newest = this.newest.get(from);
    if (newest !== undefined && eA <= newest) throw new E2eeError("KeyReplay"); // 7
    const ctx: ChainContext = {
      visit: msg.sender.hello.visit,
      epoch: eA,
      member: from,
      rosterHash: msg.sender.hello.rosterHash,
    };
    let m = this.chains.get(from);
    if (m === undefined) this.chains.set(from, (m = new Map()));
    m.set(eA, new ReceivingChain(ctx, grant.chainKey, grant.start)); // 8
    this.newest.set(from, eA);
    this.digest.set(from, d);
    return true;
  }

  /**
   * §12.4 without the clock: "pending" when there is no chain or pin yet
   * (NoKey, waits), "dropped" for a silent duplicate, else the content.
   */
  async receiveChat(
    from: string,
    body: Uint8Array,
  ): Promise<"pending" | "dropped" | { messageId: Uint8Array; text: string }> {
    const parsed = parseChatBody(body); // 1
    const chain = this.chains.get(from)?.get(parsed.epoch); // 2, 4
    const ik = this.pins.get(from); // 5
    if (chain === undefined || ik === undefined) return "pending";
    let content;
    try {
      content = await openChat(parsed, chain, ik); // 6, 7, 9
    } catch (e) {
      if (e instanceof E2eeError && e.code === "Chain(Replay)") return "dropped";
      throw e;
    }
    const idHex = toHex(content.messageId);
    if (this.seen.has(idHex)) return "dropped"; // 10
    this.seen.add(idHex);
    return content;
  }
}

// ---------------------------------------------------------------- the check

// digits(IK) costs 5200 SHA-512 (~0.2 s); it is a pure function of IK, so each
// distinct key is computed once per process (the mutation test runs the check
// hundreds of times).
const digitsMemo = new Map<string, Promise<string>>();
function digits(ik: Uint8Array): Promise<string> {
  const k = toHex(ik);
  let p = digitsMemo.get(k);
  if (p === undefined) digitsMemo.set(k, (p = safetyDigits(ik)));
  return p;
}

/** Recompute and check every field of the v2 vectors; throws on the first mismatch. */
export async function checkVectors(v: unknown): Promise<void> {
  const root = Obj.of("$", v);
  eqStr(root.at("format"), root.str("format"), FORMAT);
  const visit = root.str("visit");

  // ---- identities (§2, §13)
  const identities = new Map<string, Ident>();
  const idObj = root.obj("identities");
  for (const id of idObj.keys()) {
    const o = idObj.obj(id);
    const secret = o.hex("secret", 32);
    const pub = identityPublic(secret);
    eqHex(o.at("public"), pub, o.hex("public", 32));
    eqHex(o.at("fingerprint"), await fingerprint(pub), o.hex("fingerprint", 32));
    eqStr(o.at("safety_digits"), await digits(pub), o.str("safety_digits"));
    o.done();
    identities.set(id, { secret, public: pub });
  }
  idObj.done();
  const ident = (path: string, id: string): Ident => {
    const i = identities.get(id);
    if (i === undefined) fail(path, `no identity ${JSON.stringify(id)}`);
    return i;
  };

  // ---- safety numbers (§13): both orders give the number
  for (const o of root.objs("safety_number")) {
    const a = o.hex("first", 32);
    const b = o.hex("second", 32);
    const want = o.str("number");
    eqStr(o.at("number"), await safetyNumber(a, b, digits), want);
    eqStr(o.at("number") + " (other order)", await safetyNumber(b, a, digits), want);
    o.done();
  }

  // ---- roster hashes (§3)
  for (const o of root.objs("roster_hash")) {
    eqHex(o.at("hash"), await rosterHash(o.strs("ids")), o.hex("hash", 32));
    o.done();
  }

  // ---- hellos (§5)
  const hellos = new Map<string, OwnHello>();
  const helloObj = root.obj("hello");
  for (const m of helloObj.keys()) {
    const o = helloObj.obj(m);
    const id = ident(o.path, m);
    const secret = o.hex("ephemeral_secret", 32);
    const e = x25519Public(secret);
    eqHex(o.at("ephemeral_public"), e, o.hex("ephemeral_public", 32));
    const r = await rosterHash(o.strs("roster"));
    eqHex(o.at("roster_hash"), r, o.hex("roster_hash", 32));
    const fields = {
      visit,
      epoch: o.num("epoch"),
      member: m,
      ik: id.public,
      ephemeral: e,
      dtls: o.str("dtls"),
      rosterHash: r,
    };
    const signed = signHello(id.secret, fields);
    eqHex(o.at("signed"), signed.bytes, o.hex("signed"));
    eqHex(o.at("signature"), signed.signature, o.hex("signature", 64));
    const bundle = o.str("bundle");
    eqStr(o.at("bundle"), bundleToJson(signed), bundle);
    // and the receiving side accepts it, with the same fields
    const received = await bundleFromJson(bundle);
    checkHelloContext(received, visit, m);
    eqHex(o.at("bundle") + " (decoded Hello)", received.bytes, signed.bytes);
    eqHex(o.at("signed") + " (re-encoded)", encodeHello(decodeHello(signed.bytes)), signed.bytes);
    o.done();
    hellos.set(m, { signed, secret });
  }
  helloObj.done();
  const hello = (path: string, m: string): OwnHello => {
    const h = hellos.get(m);
    if (h === undefined) fail(path, `no hello ${JSON.stringify(m)}`);
    return h;
  };

  // ---- pairwise (§6, §7)
  const pw = root.obj("pairwise");
  {
    const a = hello(pw.path, "dr-ada");
    const b = hello(pw.path, "pt-1");
    const ab = await pairwise(a.secret, a.signed, b.signed);
    const ba = await pairwise(b.secret, b.signed, a.signed);
    for (const [k, x, y] of [
      ["shared", ab.shared, ba.shared],
      ["salt", ab.salt, ba.salt],
      ["info", ab.info, ba.info],
      ["key", ab.key, ba.key],
    ] as const) {
      const want = pw.hex(k);
      eqHex(pw.at(k), x, want);
      eqHex(pw.at(k) + " (from pt-1's side)", y, want);
    }
  }
  for (const o of pw.objs("key_messages")) {
    const from = o.str("from");
    const to = o.str("to");
    const s = hello(o.at("from"), from);
    const r = hello(o.at("to"), to);
    const start = o.num("start");
    const ck = o.hex("chain_key", 32);
    eqHex(o.at("ad"), keyAdFor(s.signed, r.signed), o.hex("ad"));
    eqHex(o.at("plaintext"), keyPlaintext(start, ck), o.hex("plaintext", 40));
    const body = await sealKeyMessage({
      sender: s.signed,
      senderSecret: s.secret,
      recipient: r.signed,
      start,
      chainKey: ck,
      nonce: o.hex("nonce", 12),
    });
    eqHex(o.at("body"), body, o.hex("body"));
    // the recipient opens it (§12.3) from the bytes alone
    const rx = new Receiver(to, visit, new Map([[r.signed.hello.epoch, r]]));
    if (!(await rx.receiveKey(from, body))) fail(o.at("body"), "dropped as a duplicate");
    const chain = rx.chains.get(from)?.get(s.signed.hello.epoch);
    if (chain === undefined) fail(o.at("body"), "no chain installed");
    eqBig(o.at("start") + " (opened)", chain.next, start);
    const opened = await openKeyMessage(await parseKeyMessage(body), r.signed, r.secret);
    eqBig(o.at("start") + " (opened)", opened.start, start);
    eqHex(o.at("chain_key") + " (opened)", opened.chainKey, ck);
    o.done();
  }
  pw.done();

  // ---- chain (§8): the sending chain of hello["dr-ada"]
  const ch = root.obj("chain");
  {
    const a = hello(ch.path, "dr-ada").signed.hello;
    const ctx: ChainContext = {
      visit: a.visit,
      epoch: a.epoch,
      member: a.member,
      rosterHash: a.rosterHash,
    };
    const ck0 = ch.hex("ck0", 32);
    const msgs = ch.objs("messages");
    const cts: Array<{ path: string; counter: bigint; ct: Uint8Array; pt: Uint8Array }> = [];
    let last = -1n;
    for (const o of msgs) {
      const counter = o.num("counter");
      if (counter <= last) fail(o.at("counter"), "counters must increase");
      last = counter;
      let ck = ck0;
      for (let i = 0n; i < counter; i++) ck = await nextChainKey(ck);
      eqHex(o.at("chain_key"), ck, o.hex("chain_key", 32));
      const mk = await messageKey(ck);
      eqHex(o.at("message_key"), mk, o.hex("message_key", 32));
      const ad = chatAd(ctx, counter);
      eqHex(o.at("ad"), ad, o.hex("ad"));
      const pt = o.hex("plaintext");
      const ct = chainSeal(mk, pt, ad);
      eqHex(o.at("ciphertext"), ct, o.hex("ciphertext"));
      cts.push({ path: o.at("ciphertext"), counter, ct, pt });
      o.done();
    }
    // the SendingChain produces the same bytes when the counters are 0, 1, 2, …
    if (cts.every((c, i) => c.counter === BigInt(i))) {
      const sc = new SendingChain(ctx, ck0);
      for (const c of cts) {
        const s = await sc.seal(c.pt);
        eqHex(c.path + " (SendingChain)", s.ciphertext, c.ct);
      }
    }
    // a receiving chain opens them all, last first (skipped keys), each once
    const rc = new ReceivingChain(ctx, ck0);
    for (const c of [...cts].reverse()) {
      eqHex(c.path + " (opened)", await rc.open(c.counter, c.ct), c.pt);
    }
    for (const c of cts) {
      await expectRefusal(c.path + " (replayed)", "Chain(Replay)", () => rc.open(c.counter, c.ct));
    }
  }
  ch.done();

  // ---- exchange (§4, §5, §7, §9, §12)
  const ex = root.obj("exchange");
  const exchange = await checkExchange(ex, visit, ident);
  ex.done();

  // ---- reject cases
  await checkRejects(root, visit, ident, hello, pw, exchange);

  root.done();
}

// ---------------------------------------------------------------- exchange

interface EpochEntry {
  readonly path: string;
  readonly own: OwnHello;
  readonly chainKey: Uint8Array | undefined;
  used: boolean;
}

interface ExchangeResult {
  readonly members: Map<string, Map<bigint, EpochEntry>>;
  /** The raw messages, and a function replaying the first n for one receiver. */
  readonly messages: Obj[];
  replay(receiver: string, n: number): Promise<Receiver>;
}

async function checkExchange(
  ex: Obj,
  visit: string,
  ident: (path: string, id: string) => Ident,
): Promise<ExchangeResult> {
  const membersObj = ex.obj("members");
  const members = new Map<string, Map<bigint, EpochEntry>>();
  for (const id of membersObj.keys()) {
    const mo = membersObj.obj(id);
    const me = ident(mo.path, id);
    const dtls = mo.str("dtls");
    const epochs = new Map<bigint, EpochEntry>();
    let prev = -1n;
    for (const eo of mo.objs("epochs")) {
      const epoch = eo.num("epoch");
      if (epoch <= prev) fail(eo.at("epoch"), "epochs of a member must strictly increase (§4.1)");
      prev = epoch;
      const roster = eo.strs("roster");
      if (!roster.includes(id)) fail(eo.at("roster"), "self is always in the roster (§3)");
      const secret = eo.hex("ephemeral_secret", 32);
      const signed = signHello(me.secret, {
        visit,
        epoch,
        member: id,
        ik: me.public,
        ephemeral: x25519Public(secret),
        dtls,
        rosterHash: await rosterHash(roster),
      });
      const bundle = eo.str("bundle");
      eqStr(eo.at("bundle"), bundleToJson(signed), bundle);
      const back = await bundleFromJson(bundle);
      checkHelloContext(back, visit, id);
      const chainKey = eo.has("chain_key") ? eo.hex("chain_key", 32) : undefined;
      epochs.set(epoch, { path: eo.path, own: { signed, secret }, chainKey, used: false });
      eo.done();
    }
    mo.done();
    members.set(id, epochs);
  }
  membersObj.done();

  const epochOf = (path: string, id: string, e: bigint): EpochEntry => {
    const m = members.get(id);
    if (m === undefined) fail(path, `no member ${JSON.stringify(id)}`);
    const x = m.get(e);
    if (x === undefined) fail(path, `member ${id} has no epoch ${e}`);
    return x;
  };

  const messages = ex.objs("messages");
  const newReceivers = (): Map<string, Receiver> =>
    new Map(
      [...members].map(([id, eps]): [string, Receiver] => [
        id,
        new Receiver(id, visit, new Map([...eps].map(([e, x]) => [e, x.own]))),
      ]),
    );

  // Pass 1: recompute every body from its inputs, and deliver it to everyone.
  const rx = newReceivers();
  const sending = new Map<string, SendingChain>();
  const openedBy: Array<Set<string>> = [];
  const chatInfo: Array<{ id: Uint8Array; text: string } | undefined> = [];
  const deliverChat = async (
    r: Receiver,
    from: string,
    body: Uint8Array,
    tag: number,
    path: string,
  ): Promise<void> => {
    const res = await r.receiveChat(from, body);
    if (res === "pending") {
      r.pending.push({ from, body, tag });
      return;
    }
    if (res === "dropped") fail(path, `${r.id} dropped it as a duplicate`);
    const info = chatInfo[tag];
    if (info === undefined) fail(path, "internal: no chat info");
    eqHex(`${path} (message id as opened by ${r.id})`, res.messageId, info.id);
    eqStr(`${path} (text as opened by ${r.id})`, res.text, info.text);
    openedBy[tag]?.add(r.id);
  };

  for (const [n, o] of messages.entries()) {
    const kind = o.str("kind");
    const from = o.str("from");
    const fromId = ident(o.at("from"), from);
    const senderEpoch = o.num("sender_epoch");
    const se = epochOf(o.at("sender_epoch"), from, senderEpoch);
    openedBy.push(new Set());
    if (kind === "key") {
      chatInfo.push(undefined);
      const to = o.str("to");
      const re = epochOf(o.at("recipient_epoch"), to, o.num("recipient_epoch"));
      if (se.chainKey === undefined)
        fail(se.path, "chain_key missing for an epoch that sends a key");
      se.used = true;
      const body = await sealKeyMessage({
        sender: se.own.signed,
        senderSecret: se.own.secret,
        recipient: re.own.signed,
        start: 0,
        chainKey: se.chainKey,
        nonce: o.hex("nonce", 12),
      });
      eqHex(o.at("body"), body, o.hex("body"));
      const r = rx.get(to) as Receiver;
      try {
        if (!(await r.receiveKey(from, body))) fail(o.at("body"), `${to} dropped it`);
      } catch (e) {
        if (e instanceof E2eeError) fail(o.at("body"), `${to} refused it: ${e.message}`);
        throw e;
      }
      const chain = r.chains.get(from)?.get(senderEpoch);
      if (chain === undefined || chain.next !== 0n) fail(o.at("body"), "not installed at start 0");
      // retry the chats of this sender that were waiting (§12.4)
      const waiting = r.pending.splice(0).filter((p) => {
        if (p.from === from) return true;
        r.pending.push(p);
        return false;
      });
      for (const p of waiting) await deliverChat(r, p.from, p.body, p.tag, `messages[${p.tag}]`);
      o.done();
    } else if (kind === "chat") {
      const counter = o.num("counter");
      const messageId = o.hex("message_id", 16);
      const text = o.str("text");
      chatInfo.push({ id: messageId, text });
      if (se.chainKey === undefined) fail(se.path, "chain_key missing for an epoch that sends");
      se.used = true;
      const key = `${from}/${senderEpoch}`;
      let sc = sending.get(key);
      if (sc === undefined) {
        const h = se.own.signed.hello;
        sc = new SendingChain(
          { visit, epoch: h.epoch, member: from, rosterHash: h.rosterHash },
          se.chainKey,
        );
        sending.set(key, sc);
      }
      eqBig(o.at("counter"), sc.counter, counter);
      const body = await sealChat(sc, fromId.secret, messageId, text);
      eqHex(o.at("body"), body, o.hex("body"));
      const readers = o.strs("readers");
      if (new Set(readers).size !== readers.length) fail(o.at("readers"), "duplicate reader");
      for (const [id, r] of rx) {
        if (id === from) continue;
        await deliverChat(r, from, body, n, o.path);
      }
      o.done();
    } else {
      fail(o.at("kind"), `unknown kind ${JSON.stringify(kind)}`);
    }
  }
  // Who could open each chat, in the end, must be exactly "readers".
  for (const [n, o] of messages.entries()) {
    if (chatInfo[n] === undefined) continue;
    const want = [...o.strs("readers")].sort();
    const got = [...(openedBy[n] as Set<string>)].sort();
    eqStr(o.at("readers"), JSON.stringify(got), JSON.stringify(want));
    for (const [id, r] of rx) {
      if (want.includes(id) || id === o.str("from")) continue;
      // a non-reader has no chain for that epoch
      if (r.chains.get(o.str("from"))?.has(o.num("sender_epoch"))) {
        fail(o.at("readers"), `${id} holds the chain but is not a reader`);
      }
    }
  }
  for (const eps of members.values()) {
    for (const x of eps.values()) {
      if (x.chainKey !== undefined && !x.used) {
        fail(x.path + ".chain_key", "not used by any message (nothing ties it down)");
      }
    }
  }

  return {
    members,
    messages,
    replay: async (receiver: string, count: number): Promise<Receiver> => {
      const fresh = newReceivers();
      const r = fresh.get(receiver);
      if (r === undefined) fail("$.exchange.members", `no member ${receiver}`);
      for (const o of messages.slice(0, count)) {
        const from = o.str("from");
        const body = fromHex(o.str("body"));
        if (o.str("kind") === "key") {
          if (o.str("to") !== receiver) continue;
          await r.receiveKey(from, body);
        } else if (from !== receiver) {
          const res = await r.receiveChat(from, body);
          if (res === "pending") r.pending.push({ from, body, tag: -1 });
        }
      }
      return r;
    },
  };
}

// ---------------------------------------------------------------- reject cases

/** The table of reject cases (name -> expected refusal, receiver if any). */
const REJECTS: Record<string, { expect: string; receiver?: string }> = {
  bundle_sig_s_plus_l: { expect: "Hello(BadSignature)" },
  bundle_ik_mismatch: { expect: "Hello(Malformed)" },
  bundle_small_order_identity: { expect: "Hello(BadSignature)" },
  bundle_noncanonical_identity: { expect: "Hello(Malformed)" },
  bundle_base64_trailing_bits: { expect: "Hello(Malformed)" },
  key_tag_flipped: { expect: "Pair(Decrypt)", receiver: "pt-1" },
  key_zero_ephemeral: { expect: "Pair(NonContributory)", receiver: "pt-1" },
  chat_ciphertext_flipped: { expect: "BadSignature", receiver: "pt-1" },
};

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function flipLast(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b);
  out[out.length - 1] = (out[out.length - 1] as number) ^ 0x01;
  return out;
}

async function checkRejects(
  root: Obj,
  visit: string,
  ident: (path: string, id: string) => Ident,
  hello: (path: string, m: string) => OwnHello,
  pw: Obj,
  exchange: ExchangeResult,
): Promise<void> {
  const seen = new Set<string>();
  for (const o of root.objs("reject")) {
    const name = o.str("name");
    const spec = REJECTS[name];
    if (spec === undefined) fail(o.at("name"), `unknown reject case ${JSON.stringify(name)}`);
    if (seen.has(name)) fail(o.at("name"), "repeated reject case");
    seen.add(name);
    const expect = o.str("expect");
    eqStr(o.at("expect"), expect, spec.expect);
    let receiver: string | undefined;
    if (spec.receiver !== undefined) {
      receiver = o.str("receiver");
      eqStr(o.at("receiver"), receiver, spec.receiver);
    }
    const ada = hello(o.path, "dr-ada").signed;

    if (name.startsWith("bundle_")) {
      let made: string;
      if (name === "bundle_sig_s_plus_l") {
        const s = leBytesToBigint(ada.signature.subarray(32, 64)) + ED25519_L;
        made = bundleToJson({
          ...ada,
          signature: concat(ada.signature.subarray(0, 32), bigintToLe32(s)),
        });
      } else if (name === "bundle_ik_mismatch") {
        made = bundleToJson({ ...ada, hello: { ...ada.hello, ik: ident(o.path, "pt-1").public } });
      } else if (
        name === "bundle_small_order_identity" ||
        name === "bundle_noncanonical_identity"
      ) {
        // identity point: y = 1; non-canonical: y = p + 1 (also the identity)
        const ik =
          name === "bundle_small_order_identity"
            ? concat(u8(1), new Uint8Array(31))
            : concat(u8(0xee), new Uint8Array(30).fill(0xff), u8(0x7f));
        const h = { ...ada.hello, ik };
        made = bundleToJson({
          hello: h,
          bytes: encodeHello(h),
          signature: concat(u8(1), new Uint8Array(63)),
        });
      } else {
        // bundle_base64_trailing_bits: sig character 85 := the next one of the alphabet
        const sig = toBase64(ada.signature);
        const c = B64.indexOf(sig.charAt(85));
        if (sig.length !== 88 || !sig.endsWith("==") || c < 0 || c === 63) {
          fail(o.path, "source signature does not allow this transformation");
        }
        const sig2 = sig.slice(0, 85) + B64.charAt(c + 1) + sig.slice(86);
        made = bundleToJson(ada).replace(`"sig":"${sig}"`, `"sig":"${sig2}"`);
      }
      const bundle = o.str("bundle");
      eqStr(o.at("bundle"), made, bundle);
      await expectRefusal(o.at("bundle"), expect, () => bundleFromJson(bundle));
    } else if (name === "key_zero_ephemeral") {
      const km0 = pw.objs("key_messages")[0];
      if (km0 === undefined) fail(o.path, "no pairwise.key_messages[0]");
      const from = km0.str("from");
      const src = await parseKeyMessage(fromHex(km0.str("body")));
      const h = { ...src.sender.hello, ephemeral: new Uint8Array(32) };
      const resigned = signHello(ident(o.path, "dr-ada").secret, h);
      const made = concat(
        u8(0x02),
        len16(resigned.bytes),
        resigned.signature,
        u64(src.recipientEpoch),
        src.nonce,
        src.ciphertext,
      );
      const body = o.hex("body");
      eqHex(o.at("body"), made, body);
      const r = hello(o.at("receiver"), receiver as string);
      const rx = new Receiver(receiver as string, visit, new Map([[r.signed.hello.epoch, r]]));
      await expectRefusal(o.at("body"), expect, () => rx.receiveKey(from, body));
    } else if (name === "key_tag_flipped" || name === "chat_ciphertext_flipped") {
      // §17.4: the exchange's key message dr-ada -> receiver, and the
      // exchange's chat from dr-ada that the receiver can read
      const kind = name === "key_tag_flipped" ? "key" : "chat";
      const idx = exchange.messages.findIndex(
        (m) =>
          m.str("kind") === kind &&
          m.str("from") === "dr-ada" &&
          (kind === "key"
            ? m.str("to") === receiver
            : m.strs("readers").includes(receiver as string)),
      );
      const src = exchange.messages[idx];
      if (src === undefined) fail(o.path, `no source ${kind} message in the exchange`);
      const body = o.hex("body");
      eqHex(o.at("body"), flipLast(fromHex(src.str("body"))), body);
      // the receiver as it was when the original arrived
      const rx = await exchange.replay(receiver as string, idx);
      const from = src.str("from");
      if (kind === "key") {
        await expectRefusal(o.at("body"), expect, () => rx.receiveKey(from, body));
      } else {
        await expectRefusal(o.at("body"), expect, async () => {
          const res = await rx.receiveChat(from, body);
          if (res === "pending") throw new E2eeError("NoKey");
          return res;
        });
        // and the untouched original still opens afterwards (no key burnt)
        const res = await rx.receiveChat(from, fromHex(src.str("body")));
        if (typeof res === "string") fail(o.at("body"), `original then ${res}`);
      }
    }
    o.done();
  }
  for (const name of Object.keys(REJECTS)) {
    if (!seen.has(name)) fail("$.reject", `case ${name} missing`);
  }
}

export { VectorError };
