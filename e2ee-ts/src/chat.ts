/** Chat body, `e2e` kind `chat` (docs/e2ee.md §9). */
import { Reader, concat, u64, u8, utf8, utf8DecodeOrUndefined } from "./bytes.js";
import { type ReceivingChain, type SendingChain, chatAd } from "./chain.js";
import { E2eeError } from "./errors.js";
import { CHAT_VERSION, LABEL_SIG } from "./labels.js";
import { ed25519Sign, ed25519VerifyStrict } from "./primitives.js";

/** A parsed chat body (§9.2). */
export interface ChatBody {
  readonly epoch: bigint;
  readonly counter: bigint;
  readonly signature: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** The content of a chat plaintext (§9.1). */
export interface ChatContent {
  /** 16 bytes. */
  readonly messageId: Uint8Array;
  readonly text: string;
}

/** 0x01 || message id (16) || UTF-8 text (§9.1). */
export function chatPlaintext(messageId: Uint8Array, text: string): Uint8Array {
  if (messageId.length !== 16) throw new RangeError("message id must be 16 bytes");
  return concat(u8(CHAT_VERSION), messageId, utf8(text));
}

/** Parse a chat plaintext (§9.1); Malformed on a wrong version, short id or bad UTF-8. */
export function parseChatPlaintext(pt: Uint8Array): ChatContent {
  const r: Reader = new Reader(pt, "Malformed");
  if (r.u8("plaintext version") !== CHAT_VERSION) r.fail("plaintext version");
  const messageId = r.bytes(16, "message id");
  const text = utf8DecodeOrUndefined(r.rest());
  if (text === undefined) r.fail("text is not UTF-8");
  return { messageId, text };
}

/** signed_bytes = "bedside-sig-v1" || AD_i || ciphertext_i (§9.2). */
export function chatSignedBytes(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return concat(LABEL_SIG, ad, ciphertext);
}

/** body = 0x01 || u64 e || u64 i || sig || ciphertext (§9.2). */
export function encodeChatBody(b: ChatBody): Uint8Array {
  if (b.signature.length !== 64) throw new RangeError("signature must be 64 bytes");
  return concat(u8(CHAT_VERSION), u64(b.epoch), u64(b.counter), b.signature, b.ciphertext);
}

/** Parse a chat body (§9.2, §12.4 step 1); Malformed on any layout error. */
export function parseChatBody(body: Uint8Array): ChatBody {
  const r = new Reader(body, "Malformed");
  if (r.u8("version") !== CHAT_VERSION) r.fail("version");
  const epoch = r.u64("epoch");
  const counter = r.u64("counter");
  const signature = r.bytes(64, "signature");
  const ciphertext = r.rest();
  return { epoch, counter, signature, ciphertext };
}

/**
 * Seal and sign one chat with the sender's chain (§9): the plaintext of
 * §9.1 is sealed at the chain's next counter, and the body is signed with
 * the sender's identity secret. `messageId` is 16 caller-drawn random bytes.
 */
export async function sealChat(
  chain: SendingChain,
  ikSecret: Uint8Array,
  messageId: Uint8Array,
  text: string,
): Promise<Uint8Array> {
  const pt = chatPlaintext(messageId, text);
  const { counter, ad, ciphertext } = await chain.seal(pt);
  const signature = ed25519Sign(ikSecret, chatSignedBytes(ad, ciphertext));
  return encodeChatBody({ epoch: BigInt(chain.context.epoch), counter, signature, ciphertext });
}

/**
 * Open a parsed chat (§12.4 steps 6, 7, 9): the signature is verified
 * strictly with the sender's pinned identity key FIRST (BadSignature; the
 * chain is not touched), then the chain opens it (Chain(Replay),
 * Chain(TooFarAhead), Chain(Decrypt)), then the plaintext is parsed
 * (Malformed). NoKey if the chain is for another epoch.
 */
export async function openChat(
  body: ChatBody,
  chain: ReceivingChain,
  pinnedIk: Uint8Array,
): Promise<ChatContent> {
  if (BigInt(chain.context.epoch) !== body.epoch) {
    throw new E2eeError("NoKey", { reason: "chain is for another epoch" });
  }
  const ad = chatAd(chain.context, body.counter);
  const ok = await ed25519VerifyStrict(
    pinnedIk,
    chatSignedBytes(ad, body.ciphertext),
    body.signature,
  );
  if (!ok) throw new E2eeError("BadSignature");
  const pt = await chain.open(body.counter, body.ciphertext);
  return parseChatPlaintext(pt);
}
