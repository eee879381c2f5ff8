/**
 * Interop with the Rust SDK: this implementation holds a visit with the
 * SDK's real `Group` (the `e2ee_peer` example, over stdin), both ways and in
 * both roles, with fresh randomness on both sides. Each side seals what the
 * other opens: bundles, key messages and chats.
 *
 * The peer binary is built by `cargo xtask test`
 * (`cargo build -p bedside-sdk --example e2ee_peer`); BEDSIDE_E2EE_PEER
 * overrides its path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import {
  E2eeError,
  ReceivingChain,
  SendingChain,
  bundleFromJson,
  bundleToJson,
  checkHelloContext,
  ed25519Public,
  equalBytes,
  fromHex,
  newChainKey,
  newEphemeralSecret,
  newIdentitySecret,
  newMessageId,
  newNonce,
  openChat,
  openKeyMessage,
  parseChatBody,
  parseKeyMessage,
  rosterHash,
  sealChat,
  sealKeyMessage,
  signHello,
  toHex,
  x25519Public,
  type SignedHello,
} from "../src/index.js";

const PEER =
  process.env.BEDSIDE_E2EE_PEER ??
  fileURLToPath(new URL("../../../target/debug/examples/e2ee_peer", import.meta.url));

type Json = { [k: string]: unknown };
type Out =
  | { bundle: string }
  | { key: { to: string; body: string } }
  | {
      chat: { from: string; id: string; text: string; roster_agrees: boolean; safety: string };
    }
  | { undecryptable: { from: string; error: string } }
  | { identity_changed: string };

/** The Rust SDK's Group, one JSON line per request. */
class RustPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: string[] = [];
  private readonly waiting: ((line: string) => void)[] = [];

  constructor() {
    assert.ok(
      existsSync(PEER),
      `${PEER} is missing: cargo build -p bedside-sdk --example e2ee_peer`,
    );
    this.child = spawn(PEER, [], { stdio: ["pipe", "pipe", "pipe"] });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const w = this.waiting.shift();
      if (w) w(line);
      else this.replies.push(line);
    });
  }

  async call(req: Json): Promise<Json> {
    this.child.stdin.write(JSON.stringify(req) + "\n");
    const line =
      this.replies.shift() ?? (await new Promise<string>((resolve) => this.waiting.push(resolve)));
    const reply = JSON.parse(line) as Json;
    assert.equal(reply.fault, undefined, `peer fault on ${JSON.stringify(req)}`);
    return reply;
  }

  async out(req: Json): Promise<Out[]> {
    const reply = await this.call(req);
    assert.equal(reply.error, undefined, `peer error on ${String(req.op)}`);
    return reply.out as Out[];
  }

  close(): void {
    this.child.stdin.end();
  }
}

function only<K extends string>(out: Out[], kind: K): Extract<Out, Record<K, unknown>>[K] {
  assert.equal(out.length, 1, `expected one ${kind}: ${JSON.stringify(out)}`);
  const o = out[0] as Record<string, unknown>;
  assert.ok(kind in o, `expected ${kind}: ${JSON.stringify(out)}`);
  return o[kind] as Extract<Out, Record<K, unknown>>[K];
}

/** One member as this implementation runs it: identity, epochs, chains. */
class TsMember {
  readonly ikSecret = newIdentitySecret();
  readonly ik = ed25519Public(this.ikSecret);
  hello!: SignedHello;
  private secret!: Uint8Array;
  private readonly history: { hello: SignedHello; secret: Uint8Array }[] = [];
  sending!: SendingChain;
  ck0!: Uint8Array;
  readonly receiving = new Map<string, ReceivingChain>();

  constructor(
    readonly visit: string,
    readonly me: string,
  ) {}

  /** A new epoch (§4.3) over `roster`; returns its bundle. */
  async epoch(epoch: number, roster: string[]): Promise<string> {
    if (this.hello) this.history.push({ hello: this.hello, secret: this.secret });
    this.secret = newEphemeralSecret();
    const rh = await rosterHash(roster);
    this.hello = signHello(this.ikSecret, {
      visit: this.visit,
      epoch,
      member: this.me,
      ik: this.ik,
      ephemeral: x25519Public(this.secret),
      dtls: "",
      rosterHash: rh,
    });
    this.ck0 = newChainKey();
    this.sending = new SendingChain(
      { visit: this.visit, epoch, member: this.me, rosterHash: rh },
      this.ck0,
    );
    return bundleToJson(this.hello);
  }

  /** Seal this epoch's CK_0 to a peer's Hello (§7). */
  grant(to: SignedHello): Promise<Uint8Array> {
    return sealKeyMessage({
      sender: this.hello,
      senderSecret: this.secret,
      recipient: to,
      start: 0,
      chainKey: this.ck0,
      nonce: newNonce(),
    });
  }

  /** Open a key message from `from` with whichever own Hello it names (§12.3). */
  async receiveKey(from: string, body: Uint8Array, pinned: Uint8Array): Promise<void> {
    const km = await parseKeyMessage(body);
    checkHelloContext(km.sender, this.visit, from);
    assert.ok(equalBytes(km.sender.hello.ik, pinned), "key message from another identity");
    const own = [{ hello: this.hello, secret: this.secret }, ...this.history].find(
      (o) => o.hello.hello.epoch === km.recipientEpoch,
    );
    assert.ok(own, "key message for an epoch this member never had");
    const grant = await openKeyMessage(km, own.hello, own.secret);
    const h = km.sender.hello;
    this.receiving.set(
      `${from}/${h.epoch}`,
      new ReceivingChain(
        { visit: h.visit, epoch: h.epoch, member: h.member, rosterHash: h.rosterHash },
        grant.chainKey,
        grant.start,
      ),
    );
  }

  async openChat(
    from: string,
    body: Uint8Array,
    pinned: Uint8Array,
  ): Promise<{ id: string; text: string }> {
    const parsed = parseChatBody(body);
    const chain = this.receiving.get(`${from}/${parsed.epoch}`);
    assert.ok(chain, `no chain from ${from} for epoch ${parsed.epoch}`);
    const c = await openChat(parsed, chain, pinned);
    return { id: toHex(c.messageId), text: c.text };
  }

  async seal(text: string): Promise<{ id: string; body: Uint8Array }> {
    const id = newMessageId();
    return { id: toHex(id), body: await sealChat(this.sending, this.ikSecret, id, text) };
  }
}

const VISIT = "v-interop-2026-12-02";

test("a TypeScript patient and the Rust SDK's provider hold a visit: keys and chats both ways", async () => {
  const rust = new RustPeer();
  try {
    const t = Date.now();
    const drIk = fromHex(
      String((await rust.call({ op: "new", visit: VISIT, me: "dr-rust", dtls: "" })).identity),
    );
    only(await rust.out({ op: "set_roster", members: ["dr-rust"], now: t }), "bundle");

    // The patient waits, with a Hello over a roster of itself.
    const pt = new TsMember(VISIT, "pt-ts");
    const waiting = await pt.epoch(t + 1, ["pt-ts"]);

    // The provider hears it join: a new epoch, and a key to the waiting Hello.
    const drBundle = only(
      await rust.out({ op: "member_joined", who: "pt-ts", now: t + 2 }),
      "bundle",
    );
    const key = only(
      await rust.out({ op: "peer_bundle", from: "pt-ts", bundle: waiting, now: t + 2 }),
      "key",
    );
    assert.equal(key.to, "pt-ts");
    const dr = await bundleFromJson(drBundle);
    checkHelloContext(dr, VISIT, "dr-rust");
    assert.ok(equalBytes(dr.hello.ik, drIk));
    assert.ok(equalBytes(dr.hello.rosterHash, await rosterHash(["dr-rust", "pt-ts"])));

    // Admitted: the patient starts an epoch over the whole roster, grants
    // its key, and opens the provider's (sealed to its waiting Hello).
    const admitted = await pt.epoch(t + 3, ["dr-rust", "pt-ts"]);
    const ptKey = await pt.grant(dr);
    await pt.receiveKey("dr-rust", fromHex(key.body), drIk);
    assert.deepEqual(
      await rust.out({ op: "peer_bundle", from: "pt-ts", bundle: admitted, now: t + 3 }),
      [],
    );
    assert.deepEqual(
      await rust.out({ op: "receive_key", from: "pt-ts", body: toHex(ptKey), now: t + 4 }),
      [],
    );

    // Rust seals, TypeScript opens (out of order).
    const sent: { id: string; text: string; body: string }[] = [];
    for (const text of ["Hello from Rust 🦀", "Second", ""]) {
      const r = await rust.call({ op: "seal_chat", text, now: t + 5 });
      assert.deepEqual(r.out, []);
      sent.push({ id: String(r.id), text, body: String(r.body) });
    }
    for (const s of [sent[2]!, sent[0]!, sent[1]!]) {
      assert.deepEqual(await pt.openChat("dr-rust", fromHex(s.body), drIk), {
        id: s.id,
        text: s.text,
      });
    }

    // TypeScript seals, Rust opens (out of order), as verified-by-TOFU,
    // with the rosters agreeing.
    const mine = [
      await pt.seal("Hello from TypeScript 👋"),
      await pt.seal("Zweite Nachricht, ünïcödé"),
    ];
    const texts = ["Hello from TypeScript 👋", "Zweite Nachricht, ünïcödé"];
    for (const i of [1, 0]) {
      const chat = only(
        await rust.out({
          op: "receive_chat",
          from: "pt-ts",
          body: toHex(mine[i]!.body),
          now: t + 6,
        }),
        "chat",
      );
      assert.deepEqual(chat, {
        from: "pt-ts",
        id: mine[i]!.id,
        text: texts[i],
        roster_agrees: true,
        safety: "unverified",
      });
    }
    // The same body again is a duplicate: dropped without a word.
    assert.deepEqual(
      await rust.out({ op: "receive_chat", from: "pt-ts", body: toHex(mine[0]!.body), now: t + 7 }),
      [],
    );

    // A byte changed in transit: the Rust side checks the signature first.
    const tampered = await pt.seal("tampered");
    tampered.body[tampered.body.length - 1]! ^= 1;
    assert.deepEqual(
      await rust.out({ op: "receive_chat", from: "pt-ts", body: toHex(tampered.body), now: t + 7 }),
      [{ undecryptable: { from: "pt-ts", error: "BadSignature" } }],
    );
    // And the other way round.
    const r = await rust.call({ op: "seal_chat", text: "tampered", now: t + 8 });
    const bad = fromHex(String(r.body));
    bad[bad.length - 1]! ^= 1;
    await assert.rejects(
      pt.openChat("dr-rust", bad, drIk),
      (e: unknown) => e instanceof E2eeError && e.code === "BadSignature",
    );
  } finally {
    rust.close();
  }
});

test("a TypeScript provider (the lower id) admits the Rust SDK's waiting patient", async () => {
  const rust = new RustPeer();
  try {
    const t = Date.now();
    const ptIk = fromHex(
      String((await rust.call({ op: "new", visit: VISIT, me: "pt-rust", dtls: "" })).identity),
    );
    const waiting = only(await rust.out({ op: "begin", now: t }), "bundle");
    const ptWaiting = await bundleFromJson(waiting);
    assert.ok(equalBytes(ptWaiting.hello.rosterHash, await rosterHash(["pt-rust"])));

    const dr = new TsMember(VISIT, "dr-ts");
    await dr.epoch(t, ["dr-ts"]);
    const drBundle = await dr.epoch(t + 1, ["dr-ts", "pt-rust"]);
    const drKey = await dr.grant(ptWaiting);

    // Admitted: the Rust patient starts an epoch, learns the provider's
    // bundle, grants its key, and opens the provider's with its waiting secret.
    only(await rust.out({ op: "set_roster", members: ["dr-ts", "pt-rust"], now: t + 2 }), "bundle");
    const ptKey = only(
      await rust.out({ op: "peer_bundle", from: "dr-ts", bundle: drBundle, now: t + 2 }),
      "key",
    );
    assert.equal(ptKey.to, "dr-ts");
    assert.deepEqual(
      await rust.out({ op: "receive_key", from: "dr-ts", body: toHex(drKey), now: t + 3 }),
      [],
    );
    await dr.receiveKey("pt-rust", fromHex(ptKey.body), ptIk);

    const hi = await dr.seal("Can you see me?");
    assert.deepEqual(
      only(
        await rust.out({ op: "receive_chat", from: "dr-ts", body: toHex(hi.body), now: t + 4 }),
        "chat",
      ),
      {
        from: "dr-ts",
        id: hi.id,
        text: "Can you see me?",
        roster_agrees: true,
        safety: "unverified",
      },
    );
    const r = await rust.call({ op: "seal_chat", text: "Yes, clearly.", now: t + 5 });
    assert.deepEqual(await dr.openChat("pt-rust", fromHex(String(r.body)), ptIk), {
      id: String(r.id),
      text: "Yes, clearly.",
    });
  } finally {
    rust.close();
  }
});
