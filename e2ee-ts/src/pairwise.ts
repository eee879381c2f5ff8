/** Pairwise key K_AB (docs/e2ee.md §6). */
import { compareBytes, concat, len16Str, u64, utf8 } from "./bytes.js";
import type { SignedHello } from "./hello.js";
import { LABEL_PAIR } from "./labels.js";
import { hkdf, sha256, x25519Shared } from "./primitives.js";

/** K_AB and the intermediates it is derived from. */
export interface Pairwise {
  /** X25519(x_me, H_peer.E), never all zero. */
  readonly shared: Uint8Array;
  /** len16(V) || V || u64(H_lo.e) || u64(H_hi.e). */
  readonly salt: Uint8Array;
  /** "bedside-pair-v1" || IK_1 || IK_2 || SHA-256(H_lo.bytes || H_hi.bytes). */
  readonly info: Uint8Array;
  /** HKDF(salt, shared, info, 32). */
  readonly key: Uint8Array;
}

/**
 * Derive K_AB from my X25519 secret, my signed Hello and the peer's signed
 * Hello (§6). The Hellos (and their epochs) are ordered by participant id
 * bytes, the identity keys by key bytes. Throws Pair(NonContributory) if the
 * X25519 output is all zero. Both sides get the same result.
 */
export async function pairwise(
  mySecret: Uint8Array,
  me: SignedHello,
  peer: SignedHello,
): Promise<Pairwise> {
  const shared = x25519Shared(mySecret, peer.hello.ephemeral);
  const meFirst = compareBytes(utf8(me.hello.member), utf8(peer.hello.member)) <= 0;
  const [lo, hi] = meFirst ? [me, peer] : [peer, me];
  const [ik1, ik2] =
    compareBytes(me.hello.ik, peer.hello.ik) <= 0
      ? [me.hello.ik, peer.hello.ik]
      : [peer.hello.ik, me.hello.ik];
  const salt = concat(len16Str(me.hello.visit), u64(lo.hello.epoch), u64(hi.hello.epoch));
  const info = concat(LABEL_PAIR, ik1, ik2, await sha256(concat(lo.bytes, hi.bytes)));
  const key = await hkdf(salt, shared, info, 32);
  return { shared, salt, info, key };
}
