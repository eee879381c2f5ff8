/**
 * Error categories of docs/e2ee.md §12.1 (and the chain errors of §8.2/§8.3).
 *
 * `code` is the category name exactly as §12.1 writes it, without the
 * parameter of the parameterised ones: `IdentityChanged(p)` is
 * "IdentityChanged" with `participant` set, `Chain(TooFarAhead(i))` is
 * "Chain(TooFarAhead)" with `counter` set.
 */
export type E2eeErrorCode =
  | "Malformed"
  | "Hello(Malformed)"
  | "Hello(BadSignature)"
  | "Hello(WrongContext)"
  | "Pair(Malformed)"
  | "Pair(NonContributory)"
  | "Pair(Decrypt)"
  | "WrongSender"
  | "IdentityChanged"
  | "StaleKey"
  | "KeyReplay"
  | "NoKey"
  | "BadSignature"
  | "Chain(TooFarAhead)"
  | "Chain(Replay)"
  | "Chain(Decrypt)"
  | "Chain(Exhausted)"
  | "NoHello"
  | "FingerprintMismatch"
  | "NotAdmitted";

export interface E2eeErrorDetail {
  /** The participant of `IdentityChanged(p)`, `NoHello(p)`, `FingerprintMismatch(p)`. */
  participant?: string;
  /** The counter of `Chain(TooFarAhead(i))` / `Chain(Replay(i))`. */
  counter?: bigint;
  /** Free text for debugging; never on the wire. */
  reason?: string;
}

export class E2eeError extends Error {
  readonly code: E2eeErrorCode;
  readonly participant: string | undefined;
  readonly counter: bigint | undefined;

  constructor(code: E2eeErrorCode, detail: E2eeErrorDetail = {}) {
    super(detail.reason === undefined ? code : `${code}: ${detail.reason}`);
    this.name = "E2eeError";
    this.code = code;
    this.participant = detail.participant;
    this.counter = detail.counter;
  }
}

/** True if `e` is an E2eeError (optionally: with this code). */
export function isE2eeError(e: unknown, code?: E2eeErrorCode): e is E2eeError {
  return e instanceof E2eeError && (code === undefined || e.code === code);
}

/**
 * Run `f`; if it throws an E2eeError with code `from` (or any E2eeError when
 * `from` is omitted), rethrow it as `to`. Other exceptions pass through.
 */
export async function remap<T>(
  f: () => Promise<T>,
  to: E2eeErrorCode,
  from?: readonly E2eeErrorCode[],
): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof E2eeError && (from === undefined || from.includes(e.code))) {
      throw new E2eeError(to, { reason: e.message });
    }
    throw e;
  }
}
