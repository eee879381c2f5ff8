/** Public API of bedside-e2ee-ts (an implementation of docs/e2ee.md §1–§15). */
export { E2eeError, isE2eeError, type E2eeErrorCode, type E2eeErrorDetail } from "./errors.js";
export {
  compareBytes,
  concat,
  equalBytes,
  fromBase64,
  fromBase64OrUndefined,
  fromHex,
  len16,
  toBase64,
  toHex,
  toU64,
  u16,
  u64,
  utf8,
  type U64Like,
} from "./bytes.js";
export {
  ED25519_L,
  aeadOpen,
  aeadSeal,
  ed25519Public,
  ed25519Sign,
  ed25519VerifyStrict,
  hkdf,
  hkdfExpand32,
  hmacSha256,
  isEd25519Point,
  sha256,
  sha512,
  x25519Public,
  x25519Shared,
} from "./primitives.js";
export * as labels from "./labels.js";
export {
  fingerprint,
  formatSafetyNumber,
  identityPublic,
  safetyDigits,
  safetyNumber,
  safetyNumberDigits,
} from "./identity.js";
export { rosterHash } from "./roster.js";
export {
  bundleFromJson,
  bundleToJson,
  checkHelloContext,
  decodeHello,
  encodeHello,
  helloDigest,
  signHello,
  verifyHello,
  type Hello,
  type HelloFields,
  type SignedHello,
} from "./hello.js";
export { pairwise, type Pairwise } from "./pairwise.js";
export {
  keyAd,
  keyAdFor,
  keyPlaintext,
  openKeyMessage,
  parseKeyMessage,
  sealKeyMessage,
  type ChainGrant,
  type KeyMessage,
} from "./keymessage.js";
export {
  MAX_SKIP,
  ReceivingChain,
  SendingChain,
  chainOpen,
  chainSeal,
  chatAd,
  messageKey,
  nextChainKey,
  type ChainContext,
  type Sealed,
} from "./chain.js";
export {
  chatPlaintext,
  chatSignedBytes,
  encodeChatBody,
  openChat,
  parseChatBody,
  parseChatPlaintext,
  sealChat,
  type ChatBody,
  type ChatContent,
} from "./chat.js";
export {
  newChainKey,
  newEphemeralSecret,
  newIdentitySecret,
  newMessageId,
  newNonce,
  randomBytes,
} from "./random.js";
export { checkSdpFingerprint, normalizeFingerprint } from "./media.js";
