/** Media binding: the SDP fingerprint check of docs/e2ee.md §12.5 (and §5.2). */
import { E2eeError } from "./errors.js";

// §12.5: ASCII whitespace is SP, HT, LF, FF, CR (not VT).
const WS = /[ \t\r\n\f]+/;
const EDGE_WS = /^[ \t\r\n\f]+|[ \t\r\n\f]+$/g;
const ATTRIBUTE = "a=fingerprint:";

const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const upperAscii = (s: string): string => s.replace(/[a-z]/g, (c) => c.toUpperCase());

/** normalize(s): lower(first token) + " " + upper(second token), or "" (§12.5). */
export function normalizeFingerprint(s: string): string {
  const t = s.split(WS).filter((x) => x !== "");
  if (t.length < 2) return "";
  return `${lowerAscii(t[0] as string)} ${upperAscii(t[1] as string)}`;
}

/**
 * §12.5 steps 3–5: every fingerprint line (trimmed, its first 14 characters
 * equal to "a=fingerprint:" in any ASCII case) must normalise to the Hello's
 * signed `dtls`; there must be at least one, and `dtls` must not normalise
 * to "". Throws FingerprintMismatch(participant) otherwise. Lines are split
 * at LF (a CR before it is trailing whitespace).
 */
export function checkSdpFingerprint(sdp: string, helloDtls: string, participant: string): void {
  const signed = normalizeFingerprint(helloDtls);
  let seen = 0;
  for (const raw of sdp.split("\n")) {
    const line = raw.replace(EDGE_WS, "");
    if (lowerAscii(line.slice(0, ATTRIBUTE.length)) !== ATTRIBUTE) continue;
    seen++;
    if (normalizeFingerprint(line.slice(ATTRIBUTE.length)) !== signed) {
      throw new E2eeError("FingerprintMismatch", { participant });
    }
  }
  if (seen === 0 || signed === "") throw new E2eeError("FingerprintMismatch", { participant });
}
