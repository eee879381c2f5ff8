import { readFileSync } from "node:fs";
import { test } from "node:test";
import { checkVectors } from "./check.js";
import { VECTORS_URL } from "./paths.js";

test("the committed v2 vectors check", async () => {
  const v: unknown = JSON.parse(readFileSync(VECTORS_URL, "utf8"));
  await checkVectors(v);
});
