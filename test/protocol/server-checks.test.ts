/**
 * The hand-written checks of src/protocol/server-checks.ts accept exactly what their zod schemas
 * accept (P7), on random valid messages and on messages mutated at every level: keys dropped or
 * added ("__proto__" too), values replaced by values of other types and by edge values (lengths
 * at and past each bound, in code points and in UTF-16 units, base64 with '=' in every place,
 * integers around every bound), strings edited character by character. Fixed seed, as in
 * property.test.ts; SIS_FUZZ_RUNS scales the runs.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CONTENT_TYPES, PROTOCOL_NAME, ProtocolError, decodeServerMessage, toBase64 } from "../../src/protocol/index.ts";
import { SERVER_SCHEMAS } from "../../src/protocol/messages.ts";
import { SERVER_CHECKS } from "../../src/protocol/server-checks.ts";

const RUNS = Math.max(1, Number(process.env.SIS_FUZZ_RUNS) || 400);
if (process.env.SIS_FUZZ_SEED || !process.env.SIS_FUZZ_RUNS) fc.configureGlobal({ seed: Number(process.env.SIS_FUZZ_SEED ?? 20261202) });
const TIMEOUT = Math.max(30_000, RUNS * 100);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------
// Valid messages of every checked type

/** Up to `max` code points, sometimes exactly `max` with astral characters (more UTF-16 units than `max`). */
const text = (max: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: Math.min(max, 16) }) },
    { weight: 1, arbitrary: fc.constantFrom("a".repeat(max), "😀".repeat(max), "😀" + "a".repeat(max - 1)) },
  );
const base64 = (maxBytes: number) => fc.oneof(fc.uint8Array({ maxLength: 64 }).map(toBase64), fc.constant(toBase64(new Uint8Array(maxBytes).fill(0xa5))));
const size = fc.oneof(fc.constantFrom(0, 1, MAX_SAFE), fc.maxSafeNat());
const seq = fc.oneof(fc.constantFrom(1, MAX_SAFE), fc.integer({ min: 1, max: MAX_SAFE }));
const nat = (min: number, max: number) => fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max }));
const imageId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex"));
const contentType = fc.constantFrom(...CONTENT_TYPES);
const imageMeta = fc.record({ seq, id: imageId, owner: text(64), name: text(1024), size, contentType, createdAt: size });
const signature = base64(16_384);

const VALID: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  HELLO: fc.record({
    type: fc.constant("HELLO"),
    protocol: fc.constant(PROTOCOL_NAME),
    version: fc.oneof(fc.constantFrom(1, 2, 3, 4, 0, -MAX_SAFE, MAX_SAFE), fc.integer()),
    server: text(64),
    user: fc.option(text(64), { nil: null }),
    serial: fc.option(text(64), { nil: null }),
    caCertificate: base64(16_000),
    storageCertificate: base64(16_000),
    limits: fc.record({ maxControlFrame: size, maxDataFrame: size, maxImageSize: size }),
  }),
  NEW_IMAGE: fc.record({ type: fc.constant("NEW_IMAGE"), image: imageMeta }),
  IMAGE_DELETED: fc.record({ type: fc.constant("IMAGE_DELETED"), image: fc.record({ seq, id: imageId, owner: text(64), name: text(1024) }) }),
  INCOMING: fc.record({
    type: fc.constant("INCOMING"),
    delivery: nat(1, 2 ** 32 - 1),
    id: imageId,
    owner: text(64),
    name: text(1024),
    contentType,
    size,
    dataSize: size,
    header: base64(1_536),
    wrappedKey: base64(1_050),
  }),
  DELIVERED: fc.record({ type: fc.constant("DELIVERED"), delivery: nat(1, 2 ** 32 - 1), image: imageMeta, signature }),
  DROPPED: fc.record({ type: fc.constant("DROPPED"), delivery: nat(1, 2 ** 32 - 1), reason: fc.constantFrom("FAILED", "BEHIND") }),
  INCOMING_ON: fc.record({ type: fc.constant("INCOMING_ON"), maxIncoming: nat(1, 4) }),
  IMAGE: fc.record({
    type: fc.constant("IMAGE"),
    image: imageMeta,
    header: base64(1_536),
    ownerCertificate: base64(16_500),
    signature,
    wrappedKey: base64(1_050),
    dataSize: size,
    from: size, // version 4 (P23a): only in the reply to a ranged DOWNLOAD
  }, { requiredKeys: ["type", "image", "header", "ownerCertificate", "signature", "wrappedKey", "dataSize"] }),
  IMAGES: fc.record({ type: fc.constant("IMAGES"), images: fc.oneof(fc.array(imageMeta, { maxLength: 4 }), imageMeta.map((m) => Array.from({ length: 100 }, () => m))), next: fc.option(seq, { nil: null }) }),
  CRL: fc.record({ type: fc.constant("CRL"), dataSize: size }),
  UPLOAD_READY: fc.record({ type: fc.constant("UPLOAD_READY"), upload: nat(1, 2 ** 31 - 1) }, { requiredKeys: ["type"] }),
  POSTED: fc.record({ type: fc.constant("POSTED"), image: imageMeta, upload: nat(1, 2 ** 31 - 1) }, { requiredKeys: ["type", "image"] }),
  PONG: fc.constant({ type: "PONG" }),
};

// ---------------------------------------------------------------------------
// Mutations

const BOUNDS = [0, 1, 2, 3, 4, 31, 32, 33, 64, 65, 128, 129, 1024, 1025, 1400, 1401, 2048, 2049, 21_848, 21_849, 22_000, 22_001];
const edgeNumber = fc.constantFrom(0, 1, -1, 0.5, 1.5, 3, 4, 5, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE, 1e300, -1e-300);
/** Strings at and past every bound: plain, astral (two units a code point), base64 with '=' in every place, hex. */
const edgeString = fc
  .record({ len: fc.constantFrom(...BOUNDS), fill: fc.constantFrom("a", "A", "f", "0", "+", "/", "😀", "\ud800", "\ude00", "=", "-", "_", " ", "\n", "G", "F"), tail: fc.constantFrom("", "=", "==", "===", "A", "A=", "AA", "😀", "\n", "=A") })
  .map(({ len, fill, tail }) => fill.repeat(Math.max(0, len - tail.length)) + tail);
const otherType = fc.constantFrom(null, true, false, [], {}, [1], { a: 1 }, "NEW_IMAGE", "PONG", "image/png", "0123456789abcdef0123456789abcdef", "FAILED");
const replacement = fc.oneof(edgeNumber, edgeString, otherType, fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: "binary", maxLength: 8 }), imageMeta);
const extraKey = fc.constantFrom("extra", "__proto__", "constructor", "toString", "upload", "delivery", "image", "type", "signature", "id", "seq", "");
const edit = fc.record({ at: fc.nat(), char: fc.constantFrom("=", "A", "a", "G", "F", "0", "+", "/", "-", "\ud83d", "\ude00", "😀", "\u0000", "é", "") , how: fc.constantFrom("set", "insert", "delete") });

type Mutation =
  | { op: "drop"; pick: number }
  | { op: "add"; pick: number; key: string; value: unknown }
  | { op: "replace"; pick: number; value: unknown }
  | { op: "edit"; pick: number; edit: { at: number; char: string; how: string } };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("drop" as const), pick: fc.nat() }),
  fc.record({ op: fc.constant("add" as const), pick: fc.nat(), key: extraKey, value: replacement }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant("replace" as const), pick: fc.nat(), value: replacement }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("edit" as const), pick: fc.nat(), edit }) },
);

/** Every object in the value and every (object, key) slot, depth first. */
function slots(value: unknown, out: { objects: object[]; slots: [Record<string, unknown> | unknown[], string | number][] } = { objects: [], slots: [] }) {
  if (typeof value !== "object" || value === null) return out;
  if (!Array.isArray(value)) out.objects.push(value);
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  for (const [k, v] of entries) {
    out.slots.push([value as Record<string, unknown>, k]);
    slots(v, out);
  }
  return out;
}

function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty: plain assignment to "__proto__" would set the prototype, not a key.
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function applyEdit(s: string, e: { at: number; char: string; how: string }): string {
  const i = s.length === 0 ? 0 : e.at % (s.length + 1);
  if (e.how === "insert") return s.slice(0, i) + e.char + s.slice(i);
  if (e.how === "delete") return s.slice(0, i) + s.slice(i + 1);
  return s.slice(0, i) + e.char + s.slice(i + 1);
}

/** The mutated message as the codec sees it: JSON text, parsed. */
function mutate(message: Record<string, unknown>, mutations: Mutation[]): unknown {
  const value = JSON.parse(JSON.stringify(message)) as Record<string, unknown>;
  for (const m of mutations) {
    const all = slots(value);
    if (m.op === "add") {
      setOwn(all.objects[m.pick % all.objects.length] as Record<string, unknown>, m.key, m.value);
      continue;
    }
    if (all.slots.length === 0) continue;
    const [holder, key] = all.slots[m.pick % all.slots.length]!;
    if (m.op === "drop") {
      if (Array.isArray(holder)) holder.splice(key as number, 1);
      else delete holder[key as string];
    } else if (m.op === "replace") {
      (holder as Record<string | number, unknown>)[key] = m.value;
    } else {
      const old = (holder as Record<string | number, unknown>)[key];
      if (typeof old === "string") (holder as Record<string | number, unknown>)[key] = applyEdit(old, m.edit);
      else if (typeof old === "number") (holder as Record<string | number, unknown>)[key] = m.edit.how === "insert" ? old + 1 : m.edit.how === "delete" ? old - 1 : -old;
    }
  }
  return JSON.parse(JSON.stringify(value));
}

/** Strings of a length at and past a bound: plain, astral, lone surrogate, base64 with padding, hex. */
function sized(length: number): string[] {
  const n = Math.max(0, length);
  return ["A".repeat(n), "A".repeat(Math.max(0, n - 1)) + "=", "A".repeat(Math.max(0, n - 2)) + "==", "😀".repeat(n), "😀" + "a".repeat(Math.max(0, n - 1)), "\ud800".repeat(n), "f".repeat(n)];
}
/**
 * Every numeric bound of a zod schema (string and array lengths, number ranges), read from its
 * checks: a bound changed in messages.ts and not in server-checks.ts is probed at its new value.
 */
function schemaBounds(schema: any, out = new Set<number>()): Set<number> {
  const def = schema._zod.def;
  for (const check of def.checks ?? []) {
    const d = check._zod.def;
    for (const v of [d.maximum, d.minimum, d.value]) if (typeof v === "number") out.add(v);
  }
  for (const inner of [def.innerType, def.element, ...(def.options ?? []), ...Object.values(def.shape ?? {})]) if (inner) schemaBounds(inner, out);
  return out;
}
/** String lengths around each bound (+4: the next base64 length), and numbers around each. */
function edgesOf(type: string): { lengths: number[]; numbers: number[] } {
  const bounds = [...schemaBounds((SERVER_SCHEMAS as Record<string, unknown>)[type])];
  const lengths = new Set([0, 1, 2, 3, 4, 5, 31, 32, 33, ...bounds.filter((b) => b <= 65_536).flatMap((b) => [b - 1, b, b + 1, b + 4])]);
  return { lengths: [...lengths].filter((n) => n >= 0), numbers: bounds.flatMap((b) => [b - 1, b - 0.5, b, b + 1]) };
}
const EDGE_VALUES: unknown[] = [0, 1, -1, 0.5, 1.5, 3, 4, 5, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE, 1e300, null, true, false, [], {}, [1], { a: 1 }, "NEW_IMAGE", "image/png", "image/PNG", "FAILED", "BEHIND", "behind", ...CONTENT_TYPES];
const EXTRA_KEYS = ["extra", "__proto__", "constructor", "toString", "upload", "delivery", "image", "signature", "id", "seq", "next", ""];

/** Every message that differs from `message` by one edit, as the codec would see it (JSON text, parsed). */
function* singleMutations(message: Record<string, unknown>, edges: { lengths: number[]; numbers: number[] }): Generator<unknown> {
  const text = JSON.stringify(message);
  const paths: (string | number)[][] = [];
  const objects: (string | number)[][] = [[]];
  (function walk(v: unknown, path: (string | number)[]) {
    if (typeof v !== "object" || v === null) return;
    // Of a long array, the first two elements stand for the rest.
    const entries = Array.isArray(v) ? v.slice(0, 2).map((x, i) => [i, x] as const) : Object.entries(v);
    for (const [k, x] of entries) {
      paths.push([...path, k]);
      if (typeof x === "object" && x !== null && !Array.isArray(x)) objects.push([...path, k]);
      walk(x, [...path, k]);
    }
  })(message, []);
  const at = (root: unknown, path: (string | number)[]) => path.reduce((o: any, k) => o[k], root);
  const withEdit = (path: (string | number)[], edit: (holder: any, key: string | number) => void) => {
    const root = JSON.parse(text);
    edit(at(root, path.slice(0, -1)), path.at(-1)!);
    return JSON.parse(JSON.stringify(root));
  };
  for (const path of paths) {
    yield withEdit(path, (h, k) => (Array.isArray(h) ? h.splice(k as number, 1) : delete h[k]));
    for (const value of [...EDGE_VALUES, ...edges.numbers]) yield withEdit(path, (h, k) => (h[k] = value));
    const old = at(JSON.parse(text), path);
    if (typeof old === "string") for (const length of edges.lengths) for (const value of sized(length)) yield withEdit(path, (h, k) => (h[k] = value));
    if (typeof old === "number") for (const d of [-1, 1]) yield withEdit(path, (h, k) => (h[k] = old + d));
    if (Array.isArray(old) && old.length > 0) {
      for (const length of [99, 100, 101]) yield withEdit(path, (h, k) => (h[k] = Array.from({ length }, () => old[0])));
    }
  }
  for (const path of objects) {
    for (const key of EXTRA_KEYS) {
      const root = JSON.parse(text);
      setOwn(path.length ? at(root, path) : root, key, 1);
      yield JSON.parse(JSON.stringify(root));
    }
  }
}

// ---------------------------------------------------------------------------

const encoder = new TextEncoder();
const schemas = SERVER_SCHEMAS as unknown as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;

/** The check, zod, and decodeServerMessage() agree on `value`; returns whether zod accepted it. */
function agree(type: string, value: unknown): boolean {
  const zod = schemas[type]!.safeParse(value);
  const fast = SERVER_CHECKS.get(type)!(value);
  if (fast !== zod.success) throw new Error(`${type}: the check says ${fast}, zod says ${zod.success}, for ${JSON.stringify(value).slice(0, 400)}`);
  const payload = encoder.encode(JSON.stringify(value));
  let decoded: unknown;
  try {
    decoded = decodeServerMessage(payload);
  } catch (e) {
    if (zod.success) throw e;
    // Refusals are zod's: the same code and wording as without the check.
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe("BAD_MESSAGE");
    expect((e as ProtocolError).message).toStartWith(`invalid ${type}: `);
    return false;
  }
  if (!zod.success) throw new Error(`${type}: decodeServerMessage() accepted what zod refuses: ${JSON.stringify(value).slice(0, 400)}`);
  // What the check lets through is what zod would have returned.
  expect(decoded).toStrictEqual(zod.data);
  return true;
}

describe("server-checks: every hand-written check accepts exactly what its zod schema accepts (P7)", () => {
  test("every checked type is a server message type, and the per-image pushes are all checked", () => {
    for (const type of SERVER_CHECKS.keys()) expect(Object.hasOwn(SERVER_SCHEMAS, type)).toBe(true);
    for (const push of ["NEW_IMAGE", "IMAGE_DELETED", "INCOMING", "DELIVERED", "DROPPED"]) expect(SERVER_CHECKS.has(push)).toBe(true);
    expect(Object.keys(VALID).sort()).toEqual([...SERVER_CHECKS.keys()].sort());
  });

  for (const type of Object.keys(VALID)) {
    test(
      `${type}: random valid messages pass both; mutated ones get the same verdict from both`,
      () => {
        let accepted = 0;
        let refused = 0;
        fc.assert(
          fc.property(VALID[type]!, (message) => {
            expect(agree(type, JSON.parse(JSON.stringify(message)))).toBe(true);
          }),
          { numRuns: Math.ceil(RUNS / 4) },
        );
        fc.assert(
          fc.property(VALID[type]!, fc.array(mutation, { minLength: 1, maxLength: 3 }), (message, mutations) => {
            const value = mutate(message, mutations);
            // A mutation can change the type: the verdict is then the other type's (or no check's).
            const t = (value as { type?: unknown }).type;
            if (typeof t !== "string" || !SERVER_CHECKS.has(t)) return;
            if (agree(t, value)) accepted++;
            else refused++;
          }),
          { numRuns: RUNS },
        );
        // Both verdicts were reached, so the comparison said something either way.
        expect(refused).toBeGreaterThan(RUNS / 20);
        if (type !== "PONG") expect(accepted).toBeGreaterThan(0);
      },
      TIMEOUT,
    );
  }

  for (const type of Object.keys(VALID)) {
    test(`${type}: every one-edit mutation of 3 valid messages gets the same verdict from both`, () => {
      let refused = 0;
      for (const sample of fc.sample(VALID[type]!, { numRuns: 3, seed: 7 })) {
        // A page's first two images stand for the rest (singleMutations still tries 99, 100 and 101 of them).
        const message = Array.isArray(sample.images) ? { ...sample, images: sample.images.slice(0, 2) } : sample;
        for (const value of singleMutations(message, edgesOf(type))) {
          const t = (value as { type?: unknown }).type;
          if (typeof t === "string" && SERVER_CHECKS.has(t) && !agree(t, value)) refused++;
        }
      }
      expect(refused).toBeGreaterThan(10);
    }, TIMEOUT);
  }

  test("base64 fields: every string of up to 9 characters over 'A', '=' and '-' gets the same verdict as the schema's pattern", () => {
    const image = { seq: 1, id: "0".repeat(32), owner: "a", name: "b", size: 0, contentType: "image/png", createdAt: 0 };
    let accepted = 0;
    let strings = [""];
    for (let length = 0; length <= 9; length++) {
      for (const s of strings) if (agree("DELIVERED", { type: "DELIVERED", delivery: 1, image, signature: s })) accepted++;
      strings = strings.flatMap((s) => [s + "A", s + "=", s + "-"]);
    }
    // "", then AAAA, AA==, AAA= and AAAAAAAA, AAAAAA==, AAAAAAA=.
    expect(accepted).toBe(1 + 3 + 3);
  });
});
