/**
 * A small strict JSON (RFC 8259) parser that keeps every object member in
 * order, so repeated members can be detected (JSON.parse keeps only the last).
 * Used for the key bundle (docs/e2ee.md §5.4) only.
 */

export type JsonValue =
  | { kind: "object"; members: Array<[string, JsonValue]> }
  | { kind: "array"; items: JsonValue[] }
  | { kind: "string"; value: string }
  /** `text` is the number exactly as written; `value` its IEEE double. */
  | { kind: "number"; text: string; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "null" };

class JsonSyntaxError extends Error {}

const MAX_DEPTH = 64;

/** Parse `text` as one JSON value; throws JsonSyntaxError on any syntax error. */
export function parseJson(text: string): JsonValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`JSON: ${what} at ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const lit = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail("bad literal");
  };
  const str = (): string => {
    if (text.charAt(i) !== '"') fail("expected string");
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text.charAt(i++);
      if (c === '"') return out;
      if (c === "\\") {
        const e = text.charAt(i++);
        const simple: Record<string, string> = {
          '"': '"',
          "\\": "\\",
          "/": "/",
          b: "\b",
          f: "\f",
          n: "\n",
          r: "\r",
          t: "\t",
        };
        const s = simple[e];
        if (s !== undefined) out += s;
        else if (e === "u") {
          const h = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(h, 16));
          i += 4;
        } else fail("bad escape");
      } else if (c < " ") fail("control character in string");
      else out += c;
    }
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail("too deep");
    ws();
    const c = text.charAt(i);
    if (c === "{") {
      i++;
      const members: Array<[string, JsonValue]> = [];
      ws();
      if (text.charAt(i) === "}") {
        i++;
        return { kind: "object", members };
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text.charAt(i) !== ":") fail("expected ':'");
        i++;
        members.push([k, value(depth + 1)]);
        ws();
        const d = text.charAt(i++);
        if (d === "}") return { kind: "object", members };
        if (d !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items: JsonValue[] = [];
      ws();
      if (text.charAt(i) === "]") {
        i++;
        return { kind: "array", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text.charAt(i++);
        if (d === "]") return { kind: "array", items };
        if (d !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return { kind: "string", value: str() };
    if (c === "t") return (lit("true"), { kind: "bool", value: true });
    if (c === "f") return (lit("false"), { kind: "bool", value: false });
    if (c === "n") return (lit("null"), { kind: "null" });
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (m === null || m[0] === "" || m[0] === "-") fail("unexpected character");
    const t = (m as RegExpExecArray)[0];
    i += t.length;
    return { kind: "number", text: t, value: Number(t) };
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}

export function isJsonSyntaxError(e: unknown): boolean {
  return e instanceof JsonSyntaxError;
}
