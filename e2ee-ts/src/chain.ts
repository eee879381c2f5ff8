/** Per-sender chain, the symmetric ratchet (docs/e2ee.md §8). */
import { concat, len16Str, toU64, u64, type U64Like } from "./bytes.js";
import { E2eeError } from "./errors.js";
import { INFO_CK, INFO_MK, LABEL_MSG } from "./labels.js";
import { aeadOpen, aeadSeal, hkdfExpand32 } from "./primitives.js";

/** Skipped-key window and cache size (§8.3). */
export const MAX_SKIP = 1000;

const ZERO_NONCE = new Uint8Array(12);
const U64_MAX = (1n << 64n) - 1n;

/** The context of a chain: the sender's visit, epoch, participant id and Hello roster hash. */
export interface ChainContext {
  readonly visit: string;
  readonly epoch: U64Like;
  readonly member: string;
  readonly rosterHash: Uint8Array;
}

/** MK_i = HKDF-Expand(CK_i, "mk", 32) (§8.1). */
export function messageKey(ck: Uint8Array): Promise<Uint8Array> {
  return hkdfExpand32(ck, INFO_MK);
}

/** CK_{i+1} = HKDF-Expand(CK_i, "ck", 32) (§8.1). */
export function nextChainKey(ck: Uint8Array): Promise<Uint8Array> {
  return hkdfExpand32(ck, INFO_CK);
}

/** AD_i = "bedside-msg-v1" || len16 V || u64 e || len16 M || u64 i || R (§8.1). */
export function chatAd(ctx: ChainContext, counter: U64Like): Uint8Array {
  if (ctx.rosterHash.length !== 32) throw new RangeError("roster hash must be 32 bytes");
  return concat(
    LABEL_MSG,
    len16Str(ctx.visit),
    u64(ctx.epoch),
    len16Str(ctx.member),
    u64(counter),
    ctx.rosterHash,
  );
}

/** Seal(MK_i, 0^12, plaintext, AD_i) (§8.1). */
export function chainSeal(mk: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return aeadSeal(mk, ZERO_NONCE, plaintext, ad);
}

/** Open(MK_i, 0^12, ciphertext, AD_i); undefined on failure. */
export function chainOpen(
  mk: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
): Uint8Array | undefined {
  return aeadOpen(mk, ZERO_NONCE, ciphertext, ad);
}

/** What the sending chain produced for one message. */
export interface Sealed {
  readonly counter: bigint;
  readonly ad: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Sending chain (§8.2). */
export class SendingChain {
  private ck: Uint8Array;
  private i: bigint;

  constructor(
    readonly context: ChainContext,
    ck0: Uint8Array,
    start: U64Like = 0,
  ) {
    if (ck0.length !== 32) throw new RangeError("chain key must be 32 bytes");
    this.ck = new Uint8Array(ck0);
    this.i = toU64(start);
  }

  /** The counter the next message will use. */
  get counter(): bigint {
    return this.i;
  }

  /** Derive MK_i and CK_{i+1}, seal, replace CK_i, increment i. */
  async seal(plaintext: Uint8Array): Promise<Sealed> {
    if (this.i === U64_MAX) throw new E2eeError("Chain(Exhausted)");
    const mk = await messageKey(this.ck);
    const next = await nextChainKey(this.ck);
    const counter = this.i;
    const ad = chatAd(this.context, counter);
    const ciphertext = chainSeal(mk, plaintext, ad);
    mk.fill(0);
    this.ck.fill(0);
    this.ck = next;
    this.i = counter + 1n;
    return { counter, ad, ciphertext };
  }
}

/** Receiving chain (§8.3): (CK_next, next, skipped), no key burning. */
export class ReceivingChain {
  private ck: Uint8Array;
  private nextCounter: bigint;
  /** counter -> message key; insertion order is ascending counter. */
  private readonly skipped = new Map<bigint, Uint8Array>();

  /** A chain whose first openable counter is `start` with chain key `ck` (§7.1). */
  constructor(
    readonly context: ChainContext,
    ck: Uint8Array,
    start: U64Like = 0,
  ) {
    if (ck.length !== 32) throw new RangeError("chain key must be 32 bytes");
    this.ck = new Uint8Array(ck);
    this.nextCounter = toU64(start);
  }

  /** The next counter not yet reached. */
  get next(): bigint {
    return this.nextCounter;
  }

  /** Counters whose message keys are held. */
  get skippedCounters(): bigint[] {
    return [...this.skipped.keys()];
  }

  /**
   * Open message `counter` (§8.3). Errors: Chain(Replay) (already opened or
   * evicted), Chain(TooFarAhead) (more than 1000 ahead), Chain(Decrypt).
   * Nothing changes unless the message authenticates.
   */
  async open(counter: U64Like, ciphertext: Uint8Array): Promise<Uint8Array> {
    const i = toU64(counter);
    const ad = chatAd(this.context, i);
    if (i < this.nextCounter) {
      const mk = this.skipped.get(i);
      if (mk === undefined) throw new E2eeError("Chain(Replay)", { counter: i });
      const pt = chainOpen(mk, ciphertext, ad);
      if (pt === undefined) throw new E2eeError("Chain(Decrypt)", { counter: i });
      mk.fill(0);
      this.skipped.delete(i);
      return pt;
    }
    if (i - this.nextCounter > BigInt(MAX_SKIP)) {
      throw new E2eeError("Chain(TooFarAhead)", { counter: i });
    }
    // No sender seals the last counter; a chain can start anywhere (§8.3).
    if (i === U64_MAX) throw new E2eeError("Chain(Exhausted)", { counter: i });
    let k = this.ck;
    const fresh: Array<[bigint, Uint8Array]> = [];
    for (let j = this.nextCounter; j < i; j++) {
      fresh.push([j, await messageKey(k)]);
      const n = await nextChainKey(k);
      if (k !== this.ck) k.fill(0);
      k = n;
    }
    const mk = await messageKey(k);
    const pt = chainOpen(mk, ciphertext, ad);
    mk.fill(0);
    if (pt === undefined) {
      for (const [, key] of fresh) key.fill(0);
      if (k !== this.ck) k.fill(0);
      throw new E2eeError("Chain(Decrypt)", { counter: i });
    }
    for (const [j, key] of fresh) this.skipped.set(j, key);
    while (this.skipped.size > MAX_SKIP) {
      let lowest: bigint | undefined;
      for (const c of this.skipped.keys()) if (lowest === undefined || c < lowest) lowest = c;
      const key = this.skipped.get(lowest as bigint) as Uint8Array;
      key.fill(0);
      this.skipped.delete(lowest as bigint);
    }
    const nextCk = await nextChainKey(k);
    if (k !== this.ck) k.fill(0);
    this.ck.fill(0);
    this.ck = nextCk;
    this.nextCounter = i + 1n;
    return pt;
  }

  /** Zeroize every key held (the chain is dropped). */
  drop(): void {
    this.ck.fill(0);
    for (const k of this.skipped.values()) k.fill(0);
    this.skipped.clear();
  }
}
