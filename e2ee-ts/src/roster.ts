/** Roster hash (docs/e2ee.md §3). */
import { compareBytes, concat, equalBytes, len16, utf8 } from "./bytes.js";
import { LABEL_ROSTER } from "./labels.js";
import { sha256 } from "./primitives.js";

/**
 * roster_hash(ids): the ids de-duplicated and sorted by their UTF-8 bytes,
 * each len16-framed after "bedside-roster-v1", hashed with SHA-256.
 */
export async function rosterHash(ids: Iterable<string>): Promise<Uint8Array> {
  const set: Uint8Array[] = [];
  for (const id of ids) {
    const b = utf8(id);
    if (!set.some((x) => equalBytes(x, b))) set.push(b);
  }
  set.sort(compareBytes);
  return sha256(concat(LABEL_ROSTER, ...set.map((b) => len16(b))));
}
