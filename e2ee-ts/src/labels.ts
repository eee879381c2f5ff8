/** Labels and version bytes of docs/e2ee.md §1.2 (ASCII, no terminator, no length prefix). */
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export const LABEL_FP = ascii("bedside-fp-v1");
export const LABEL_ROSTER = ascii("bedside-roster-v1");
export const LABEL_HELLO = ascii("bedside-hello-v1");
export const LABEL_PAIR = ascii("bedside-pair-v1");
export const LABEL_KEY = ascii("bedside-key-v1");
export const LABEL_MSG = ascii("bedside-msg-v1");
export const LABEL_SIG = ascii("bedside-sig-v1");
export const LABEL_SN = ascii("bedside-sn-v1");
export const INFO_MK = ascii("mk");
export const INFO_CK = ascii("ck");

export const KEY_MESSAGE_VERSION = 0x02;
export const CHAT_VERSION = 0x01;
export const BUNDLE_VERSION = 1;
