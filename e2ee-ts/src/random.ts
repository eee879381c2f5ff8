/**
 * Random inputs drawn from crypto.getRandomValues. Every other function takes
 * its randomness as an argument, so that test vectors are reproducible.
 */
import { randomBytes } from "./primitives.js";

/** A fresh X25519 ephemeral secret (32 bytes, §4.3 step 2). */
export const newEphemeralSecret = (): Uint8Array => randomBytes(32);
/** A fresh chain key CK_0 (32 bytes, §4.3 step 5). */
export const newChainKey = (): Uint8Array => randomBytes(32);
/** A fresh key-message nonce (12 bytes, §7.2). */
export const newNonce = (): Uint8Array => randomBytes(12);
/** A fresh chat message id (16 bytes, §9.1). */
export const newMessageId = (): Uint8Array => randomBytes(16);
/** A fresh identity secret (Ed25519 seed, 32 bytes, §2). */
export const newIdentitySecret = (): Uint8Array => randomBytes(32);

export { randomBytes };
