import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { VectorError, checkVectors } from "./check.js";
import { VECTORS_URL } from "./paths.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = ReadonlyArray<string | number>;

/** Every leaf: each string and number, and each array element that is one. */
function leaves(v: Json, path: Path = []): Path[] {
  if (typeof v === "string" || typeof v === "number") return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v !== null && typeof v === "object") {
    return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  }
  return [];
}

/** hex: flip the lowest bit of the last hex digit; other string: change the middle character; number: +1. */
export function mutate(x: string | number): string | number {
  if (typeof x === "number") return x + 1;
  if (x.length > 0 && x.length % 2 === 0 && /^[0-9a-f]+$/.test(x)) {
    const d = parseInt(x.charAt(x.length - 1), 16) ^ 1;
    return x.slice(0, -1) + d.toString(16);
  }
  if (x.length === 0) return "x"; // nothing to change: the rule is extended to "add one"
  const m = Math.floor(x.length / 2);
  const c = x.charAt(m) === "x" ? "y" : "x";
  return x.slice(0, m) + c + x.slice(m + 1);
}

function withLeaf(v: Json, path: Path, f: (x: string | number) => string | number): Json {
  const copy = structuredClone(v);
  let node: Json = copy;
  for (const k of path.slice(0, -1)) node = (node as Record<string | number, Json>)[k] as Json;
  const last = path[path.length - 1] as string | number;
  const holder = node as Record<string | number, Json>;
  holder[last] = f(holder[last] as string | number);
  return copy;
}

const show = (p: Path): string =>
  "$" + p.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");

test("every single-leaf mutation of the vectors is detected", async () => {
  const v = JSON.parse(readFileSync(VECTORS_URL, "utf8")) as Json;
  await checkVectors(v); // the original passes
  const paths = leaves(v);
  assert.ok(paths.length > 100, `only ${paths.length} leaves`);
  const undetected: string[] = [];
  for (const p of paths) {
    const m = withLeaf(v, p, mutate);
    try {
      await checkVectors(m);
      undetected.push(show(p));
    } catch (e) {
      // Detected only if a check refused it; a crash is not a check.
      if (!(e instanceof VectorError)) undetected.push(`${show(p)} (crashed: ${String(e)})`);
    }
  }
  assert.deepEqual(
    undetected,
    [],
    `undetected mutations (${undetected.length} of ${paths.length}):\n${undetected.join("\n")}`,
  );
});
