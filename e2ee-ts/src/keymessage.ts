/** Key message, `e2e` kind `key` (docs/e2ee.md §7). */
import { Reader, concat, len16, len16Str, toU64, u64, u8, type U64Like } from "./bytes.js";
import { E2eeError } from "./errors.js";
import { verifyHello, type SignedHello } from "./hello.js";
import { KEY_MESSAGE_VERSION, LABEL_KEY } from "./labels.js";
import { pairwise } from "./pairwise.js";
import { aeadOpen, aeadSeal } from "./primitives.js";

/** A chain grant: the first counter the chain key opens, and the chain key. */
export interface ChainGrant {
  readonly start: bigint;
  readonly chainKey: Uint8Array;
}

/** A parsed key message; `sender` has been decoded and strictly verified. */
export interface KeyMessage {
  readonly sender: SignedHello;
  readonly recipientEpoch: bigint;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/**
 * AD = "bedside-key-v1" || len16 V || u64 e_A || u64 e_B || len16 A || len16 B (§7.1).
 */
export function keyAd(
  visit: string,
  senderEpoch: U64Like,
  recipientEpoch: U64Like,
  sender: string,
  recipient: string,
): Uint8Array {
  return concat(
    LABEL_KEY,
    len16Str(visit),
    u64(senderEpoch),
    u64(recipientEpoch),
    len16Str(sender),
    len16Str(recipient),
  );
}

/** The 40-byte plaintext u64(start) || CK (§7.1). */
export function keyPlaintext(start: U64Like, chainKey: Uint8Array): Uint8Array {
  if (chainKey.length !== 32) throw new RangeError("chain key must be 32 bytes");
  return concat(u64(start), chainKey);
}

/** AD of a key message from `sender` to `recipient` (visit and ids from the Hellos). */
export function keyAdFor(sender: SignedHello, recipient: SignedHello): Uint8Array {
  return keyAd(
    sender.hello.visit,
    sender.hello.epoch,
    recipient.hello.epoch,
    sender.hello.member,
    recipient.hello.member,
  );
}

/**
 * Seal a chain grant to `recipient` (§7.1): 0x02 || len16 Hello_A || sig_A ||
 * u64 e_B || nonce || Seal(K_AB, nonce, u64 start || CK, AD). The 12-byte nonce
 * is given by the caller and MUST be fresh random bytes (§7.2).
 */
export async function sealKeyMessage(args: {
  readonly sender: SignedHello;
  /** The sender's X25519 secret of `sender`'s epoch. */
  readonly senderSecret: Uint8Array;
  readonly recipient: SignedHello;
  readonly start: U64Like;
  readonly chainKey: Uint8Array;
  readonly nonce: Uint8Array;
}): Promise<Uint8Array> {
  if (args.nonce.length !== 12) throw new RangeError("nonce must be 12 bytes");
  const { key } = await pairwise(args.senderSecret, args.sender, args.recipient);
  const ct = aeadSeal(
    key,
    args.nonce,
    keyPlaintext(args.start, args.chainKey),
    keyAdFor(args.sender, args.recipient),
  );
  key.fill(0);
  return concat(
    u8(KEY_MESSAGE_VERSION),
    len16(args.sender.bytes),
    args.sender.signature,
    u64(args.recipient.hello.epoch),
    args.nonce,
    ct,
  );
}

/**
 * Parse a key message body (§7.1, §12.3 step 1). The embedded Hello is
 * decoded and strictly verified; every failure is Pair(Malformed).
 */
export async function parseKeyMessage(body: Uint8Array): Promise<KeyMessage> {
  const r = new Reader(body, "Pair(Malformed)");
  if (r.u8("version") !== KEY_MESSAGE_VERSION) r.fail("version");
  const helloBytes = r.var("sender Hello");
  const sig = r.bytes(64, "sender signature");
  const recipientEpoch = r.u64("recipient epoch");
  const nonce = r.bytes(12, "nonce");
  const ciphertext = r.rest();
  const sender = await verifyHello(helloBytes, sig, "Pair(Malformed)", "Pair(Malformed)");
  return { sender, recipientEpoch, nonce, ciphertext };
}

/**
 * Open a parsed key message with the recipient's own signed Hello of epoch
 * `e_B` and its X25519 secret (§12.3 step 6). Errors: StaleKey if `own` is not
 * the Hello of `e_B`; Pair(NonContributory); Pair(Decrypt); Pair(Malformed)
 * if the plaintext is not 40 bytes.
 */
export async function openKeyMessage(
  msg: KeyMessage,
  own: SignedHello,
  ownSecret: Uint8Array,
): Promise<ChainGrant> {
  if (own.hello.epoch !== msg.recipientEpoch) throw new E2eeError("StaleKey");
  const { key } = await pairwise(ownSecret, own, msg.sender);
  const pt = aeadOpen(key, msg.nonce, msg.ciphertext, keyAdFor(msg.sender, own));
  key.fill(0);
  if (pt === undefined) throw new E2eeError("Pair(Decrypt)");
  if (pt.length !== 40) throw new E2eeError("Pair(Malformed)", { reason: "plaintext length" });
  const start = new DataView(pt.buffer, pt.byteOffset, 8).getBigUint64(0, false);
  return { start: toU64(start), chainKey: pt.slice(8, 40) };
}
