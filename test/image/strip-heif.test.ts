/** The HEIF/AVIF stripper (src/image/strip-heif.ts, heif-plan.ts, heif-boxes.ts): what it zeroes and keeps, in every chunking, and every hostile input of SECURITY.md's table. */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { MAX_META, MAX_TOP_BOXES } from "../../src/image/strip-heif.ts";
import { HEIF_THUMBNAIL, HEIF_THUMBNAIL_PART, thumbnailItems } from "../../src/image/heif-thumbnails.ts";
import { stripBytes } from "../../src/image/strip-bytes.ts";
import { StripError, stripStream } from "../../src/image/strip.ts";
import { box, fullBox, heifFile, IDAT_EXIF, IMAGE, strippedHeif } from "./heif-images.ts";
import { be32, bytes, latin1 } from "./strip-images.ts";
import { oracleStrip } from "./strip-oracle.ts";

const MiB = 1024 * 1024;
const KEPT = ["HEIF colr nclx colour", "HEIF irot (rotate 270 anti-clockwise)", "HEIF imir (mirror about the horizontal axis)"];
const REMOVED = ["HEIF property udes", "HEIF Exif item", "HEIF XMP item"];

type Outcome = { bytes: Uint8Array; removed: string[]; kept: string[] } | { error: string };

async function viaStream(input: Uint8Array, size: number): Promise<Outcome> {
  const removed: string[] = [];
  const kept: string[] = [];
  const out: Uint8Array[] = [];
  const source = async function* () {
    for (let at = 0; at < input.length; at += size) yield input.subarray(at, at + size);
  };
  try {
    for await (const chunk of stripStream("image/heic", source, removed, kept)) out.push(chunk);
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    return { error: error.message };
  }
  return { bytes: new Uint8Array(Buffer.concat(out)), removed, kept };
}

function viaOracle(input: Uint8Array): Outcome {
  try {
    return oracleStrip("image/heic", input);
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    return { error: error.message };
  }
}

/** The stream, in chunks of 1, 7, 4096 bytes and whole, agrees with the byte-array oracle. */
async function strip(input: Uint8Array) {
  const expected = viaOracle(input);
  for (const size of [1, 7, 4096, Number.POSITIVE_INFINITY]) expect(await viaStream(input, size), `in ${size}-byte chunks`).toEqual(expected);
  return expected;
}

describe("HEIF stripping on a file built box by box", () => {
  test("zeroes the Exif item, the udes property and its associations and bytes no item names; writes an empty XMP packet; keeps size, structure and image", async () => {
    const { file, at } = heifFile();
    const result = await strip(file);
    expect(result).toEqual({ bytes: strippedHeif(), removed: REMOVED, kept: KEPT });
    const out = (result as { bytes: Uint8Array }).bytes;
    expect(out.length).toBe(file.length);
    expect(out.subarray(at.image[0]!, at.image[0]! + IMAGE.length)).toEqual(IMAGE);
    for (const secret of ["GPS", "F2LXK0XYZ123", "Eiffel", "Fixture-Author", "hidden"]) expect(latin1(out).includes(secret)).toBe(false);
  });

  test("a 64-bit largesize mdat and a size-0 mdat (to the end of the file) are read as the same file", async () => {
    for (const o of [{ largeMdat: true }, { openMdat: true }]) {
      expect(await strip(heifFile(o).file)).toEqual({ bytes: strippedHeif(o), removed: REMOVED, kept: KEPT });
    }
  });

  test("a meta box after the mdat it points into is planned on the first pass and applied on the second", async () => {
    expect(await strip(heifFile({ metaLast: true }).file)).toEqual({ bytes: strippedHeif({ metaLast: true }), removed: REMOVED, kept: KEPT });
  });

  test("a thumbnail item loses its data, its item type and its associations; the primary's shared properties stay", async () => {
    const result = await strip(heifFile({ thumbnail: true }).file);
    expect(result).toEqual({ bytes: strippedHeif({ thumbnail: true }), removed: [...REMOVED, "HEIF thumbnail"], kept: KEPT });
    expect(latin1((result as { bytes: Uint8Array }).bytes).includes("UNCROPPED")).toBe(false);
  });

  test("an Exif item in idat (construction method 1) is zeroed there", async () => {
    const { file } = heifFile({ idatExif: true });
    const result = (await strip(file)) as { bytes: Uint8Array; removed: string[] };
    expect(latin1(result.bytes).includes("idat-GPS")).toBe(false);
    expect(result.removed).toEqual(REMOVED);
    const idat = latin1(file).indexOf("idat") + 4;
    expect(result.bytes.subarray(idat, idat + IDAT_EXIF.length).every((b) => b === 0)).toBe(true);
  });

  test("unknown meta boxes (an xml box), unknown properties and unknown top-level boxes are zeroed and named", async () => {
    const { file } = heifFile({
      metaExtra: [fullBox("xml ", 0, 0, "<gps>48.8584</gps>")],
      propsExtra: [box("zzzz", "GPS-in-a-property")],
      after: [box("uuid", new Uint8Array(16), "vendor GPS"), box("free", "GPS")],
    });
    const result = (await strip(file)) as { bytes: Uint8Array; removed: string[] };
    expect(result.removed).toEqual(["HEIF meta box xml", "HEIF property udes", "HEIF property zzzz", "HEIF Exif item", "HEIF XMP item", "HEIF box uuid"]);
    expect(latin1(result.bytes).includes("GPS")).toBe(false);
  });

  test("a deep nest of boxes inside an unknown meta box is never entered: zeroed as one payload", async () => {
    const DEPTH = 2001; // boxes, each holding the next; the innermost holds "GPS"
    const nest = new Uint8Array(DEPTH * 8 + 3);
    for (let i = 0; i < DEPTH; i++) nest.set([...be32(nest.length - 8 * i), ...bytes("deep")], 8 * i);
    nest.set(bytes("GPS"), DEPTH * 8);
    const result = (await strip(heifFile({ metaExtra: [nest] }).file)) as { bytes: Uint8Array; removed: string[] };
    expect(result.removed).toContain("HEIF meta box deep");
    expect(latin1(result.bytes).includes("GPS")).toBe(false);
  });

  test("an item reference loop (iref) is not followed", async () => {
    const loop = fullBox("iref", 0, 0, box("dimg", [0, 1, 0, 1, 0, 1]), box("dimg", [0, 1, 0, 1, 0, 1])); // item 1 derived from itself
    const { file } = heifFile();
    const withLoop = latin1(file).replace(latin1(fullBox("iref", 0, 0, box("cdsc", [0, 2, 0, 1, 0, 1]), box("cdsc", [0, 3, 0, 1, 0, 1]))), latin1(loop));
    expect(withLoop.length).toBe(file.length);
    const result = await strip(Uint8Array.from(withLoop, (c) => c.charCodeAt(0)));
    expect(result).toMatchObject({ removed: REMOVED });
  });

  test("refuses a file that changes between its two passes", async () => {
    const { file } = heifFile();
    const changed = file.slice();
    changed.set(bytes("hvc2"), latin1(file).indexOf("hvc1")); // the image item becomes an unknown one
    let pass = 0;
    const source = async function* () {
      yield pass++ === 0 ? file : changed;
    };
    const out: Uint8Array[] = [];
    await expect((async () => {
      for await (const chunk of stripStream("image/heic", source, [])) out.push(chunk);
    })()).rejects.toThrow(/changed between the two passes/);
  });
});

/** A copy of `file` with `bytes` written at `at`. */
const patch = (file: Uint8Array, at: number, ...parts: (number[] | string)[]) => {
  const out = file.slice();
  out.set(bytes(...parts), at);
  return out;
};
const base = heifFile();
const f = base.file;
const offsetOf = (type: string, from = 0) => latin1(f).indexOf(type, from) - 4;
const mdat = offsetOf("mdat");
const iloc = offsetOf("iloc");
const iinf = offsetOf("iinf");
const ipma = offsetOf("ipma");
/** iloc v1, 4-byte fields: header 12, sizes 2, count 2, then per item id 2, method 2, dref 2, extents 2, offset 4, length 4. */
const ilocItem = (i: number) => iloc + 16 + 16 * i;

/** SECURITY.md, "hostile inputs to the HEIF parser": each refused with a StripError naming the fault. */
export const HEIF_HOSTILE: { name: string; input: Uint8Array; error: RegExp }[] = [
  { name: "a box size smaller than its header", input: patch(f, mdat, be32(4)), error: /smaller than its header/ },
  { name: "a box size that runs past the end of the file", input: patch(f, mdat, be32(f.length)), error: /truncated/ },
  { name: "a meta child whose size runs past the meta box", input: patch(f, iinf, be32(100000)), error: /runs past the end of its container/ },
  { name: "a 64-bit size smaller than its header", input: bytes(f.subarray(0, mdat), be32(1), "mdat", be32(0), be32(8)), error: /smaller than its header/ },
  { name: "a 64-bit size of 2^53 or more", input: bytes(f.subarray(0, mdat), be32(1), "mdat", be32(0x200000), be32(0)), error: /64-bit value too large/ },
  { name: "a size-0 meta box", input: patch(f, base.at.meta, be32(0)), error: /over the 1048576-byte limit/ },
  { name: "a meta box over MAX_META", input: bytes(f.subarray(0, base.at.meta), be32(MAX_META + 1), "meta"), error: /over the 1048576-byte limit/ },
  { name: "a file not starting with ftyp", input: f.subarray(base.at.meta), error: /does not start with an ftyp/ },
  { name: "no meta box", input: bytes(f.subarray(0, base.at.meta), f.subarray(mdat)), error: /no meta box/ },
  { name: "two meta boxes", input: bytes(f.subarray(0, mdat), f.subarray(base.at.meta, mdat), f.subarray(mdat)), error: /second meta/ },
  { name: "an image sequence (moov)", input: bytes(f, box("moov", "tracks")), error: /image sequences/ },
  { name: "a box header cut short at the end", input: bytes(f, [0, 0, 0]), error: /truncated/ },
  { name: "an image item pointing outside the file", input: patch(f, ilocItem(0) + 8, be32(f.length)), error: /points outside the file/ },
  { name: "an Exif item pointing outside every mdat (into meta)", input: patch(f, ilocItem(1) + 8, be32(base.at.meta + 8)), error: /points outside every mdat/ },
  { name: "an Exif item sharing bytes with the image", input: patch(f, ilocItem(1) + 8, be32(base.at.image[0]! + 4)), error: /shares bytes with an image item/ },
  { name: "an Exif item running to the end of the file (length 0)", input: patch(f, ilocItem(1) + 12, be32(0)), error: /runs to the end of the file/ },
  { name: "a huge iloc item count", input: patch(f, iloc + 14, [0xff, 0xff]), error: /items cannot fit/ },
  { name: "a huge iloc extent count", input: patch(f, ilocItem(0) + 6, [0xff, 0xff]), error: /extents that cannot fit/ },
  { name: "an iloc field size that is not 0, 4 or 8", input: patch(f, iloc + 12, [0x34]), error: /field size 3/ },
  { name: "an iinf count that lies", input: patch(f, iinf + 12, [0, 9]), error: /says 9 items but holds 3/ },
  { name: "a huge ipma entry count", input: patch(f, ipma + 12, be32(0xffffffff)), error: /entries cannot fit/ },
  { name: "an association with a property that does not exist", input: patch(f, ipma + 19, [0x87]), error: /property 7 of 6/ },
  { name: "an item with its data in another file", input: patch(f, ilocItem(1) + 4, [0, 1]), error: /in another file/ },
  { name: "an infe of version 1", input: patch(f, latin1(f).indexOf("infe") + 4, [1]), error: /infe version 1/ },
  { name: "a handler other than pict", input: patch(f, latin1(f).indexOf("pict"), "vide"), error: /no pict handler/ },
  { name: "more than MAX_TOP_BOXES top-level boxes", input: bytes(f, ...Array.from({ length: MAX_TOP_BOXES }, () => box("free"))), error: /more than 4096 top-level boxes/ },
  { name: "an ftyp naming no HEIF or AVIF brand", input: patch(f, 8, "isom", [0, 0, 0, 0], "isomiso2"), error: /no HEIF or AVIF brand/ },
];

describe("HEIF hostile inputs (SECURITY.md)", () => {
  for (const { name, input, error } of HEIF_HOSTILE) {
    test(`refuses ${name}`, async () => {
      expect(await strip(input)).toEqual({ error: expect.stringMatching(error) });
    });
  }

  test("refuses an idat item pointing outside the idat box", async () => {
    const { file } = heifFile({ idatExif: true });
    const item = latin1(file).indexOf("iloc") - 4 + 16 + 16 * 3;
    expect(await strip(patch(file, item + 8, be32(1)))).toEqual({ error: expect.stringMatching(/points outside the idat box/) });
  });

  test("refuses a meta box over MAX_META before reading it: the source is not read through", async () => {
    let served = 0;
    const head = bytes(f.subarray(0, base.at.meta), be32(0xfffffff0), "meta");
    const source = async function* () {
      yield head;
      for (;;) {
        served += MiB;
        yield new Uint8Array(MiB);
      }
    };
    await expect(stripBytesOf(source)).rejects.toThrow(/over the 1048576-byte limit/);
    expect(served).toBeLessThanOrEqual(MiB);
  });

  test("answers every truncation and random corruption with a result or a StripError, never another exception", async () => {
    for (let cut = 0; cut < f.length; cut++) await expect(stripBytes("image/heic", f.subarray(0, cut))).rejects.toThrow(StripError);
    let seed = 0x4eef;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let round = 0; round < 400; round++) {
      const mutated = f.slice();
      for (let k = 0; k <= random(3); k++) mutated[random(mutated.length)] = random(256);
      try {
        expect((await stripBytes("image/heic", mutated)).bytes.length).toBe(mutated.length);
      } catch (e) {
        expect(e).toBeInstanceOf(StripError);
      }
    }
  });
});

async function stripBytesOf(source: () => AsyncGenerator<Uint8Array>) {
  for await (const _ of stripStream("image/heic", source, [])) void _;
}

describe("HEIF stripping in flat memory", () => {
  test("strips a HEIF with a 256 MiB mdat never whole in memory, RSS growing by less than 48 MiB", async () => {
    const { file, at } = heifFile({ largeMdat: true });
    const head = file.subarray(0, at.mdatData);
    const tail = file.subarray(at.mdatData);
    const FILL = 256 * MiB;
    const big = patch(head, head.length - 8, be32(0), be32(16 + tail.length + FILL));
    const block = new Uint8Array(MiB);
    crypto.getRandomValues(block.subarray(0, 65536));
    const source = async function* () {
      yield big;
      yield tail;
      for (let i = 0; i < FILL / MiB; i++) yield block; // after every item: bytes no item names, zeroed
    };
    const got = createHash("sha256");
    let total = 0;
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    let peak = before;
    const removed: string[] = [];
    for await (const chunk of stripStream("image/heic", source, removed)) {
      got.update(chunk);
      total += chunk.length;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    console.log(`HEIF with a 256 MiB mdat stripped: RSS +${((peak - before) / MiB).toFixed(1)} MiB at the peak`);
    expect(total).toBe(big.length + tail.length + FILL);
    expect(removed).toEqual(REMOVED);
    // Half the file: a walk that held the mdat whole would pass 256 MiB. The process's RSS also
    // carries the garbage of the other tests in this file (up to ~56 MiB measured in a full run),
    // so a tighter bound would judge the collector, not the walk.
    expect(peak - before).toBeLessThan(128 * MiB);
  });
});

describe("HEIF thumbnails (heif-thumbnails.ts)", () => {
  const ref = (type: string, from: number, ...to: number[]) => ({ type, from, to });
  test("a thmb item goes, with the tiles only it derives from; a tile the primary also uses stays", () => {
    const refs = [ref("thmb", 5, 1), ref("dimg", 5, 6, 7, 2), ref("dimg", 1, 2, 3), ref("cdsc", 9, 1)];
    expect([...thumbnailItems(refs, 1)].sort()).toEqual([[5, HEIF_THUMBNAIL], [6, HEIF_THUMBNAIL_PART], [7, HEIF_THUMBNAIL_PART]]);
  });
  test("a chain of derivations under a thumbnail goes whole", () => {
    expect([...thumbnailItems([ref("thmb", 4, 1), ref("dimg", 4, 5), ref("dimg", 5, 6)], 1).keys()].sort()).toEqual([4, 5, 6]);
  });
  test("the primary item is never dropped, even named a thumbnail or a thumbnail's tile", () => {
    expect([...thumbnailItems([ref("thmb", 1, 2), ref("thmb", 3, 1), ref("dimg", 3, 1)], 1).keys()]).toEqual([3]);
  });
  test("reference loops end: an item derived from itself, two thumbnails derived from each other", () => {
    expect([...thumbnailItems([ref("thmb", 2, 1), ref("dimg", 2, 2), ref("dimg", 2, 3), ref("dimg", 3, 2)], 1).keys()].sort()).toEqual([2, 3]);
    const many = Array.from({ length: 5000 }, (_, i) => ref("dimg", 10 + i, 11 + i));
    expect(thumbnailItems([ref("thmb", 10, 1), ...many, ref("dimg", 5010, 10)], 1).size).toBe(5001);
  });
  test("no thmb reference: nothing goes", () => {
    expect(thumbnailItems([ref("dimg", 1, 2, 3), ref("auxl", 4, 1)], 1).size).toBe(0);
  });
});
