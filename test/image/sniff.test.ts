/** sniffImageType(): the content decides what an image is, on real files and on crafted headers. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readHead } from "../../src/client/file-source.ts";
import { FORMATS, type ImageKind } from "../../src/image/formats.ts";
import { SNIFF_BYTES, sniffImageType } from "../../src/image/sniff.ts";
import { CONTENT_TYPES, type ContentType } from "../../src/protocol/index.ts";
import { tempDir } from "../support/cli.ts";
import { SAMPLE } from "../support/share.ts";

const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

describe("sniffImageType()", () => {
  test.each([
    ["PNG", SAMPLE.png, "image/png"],
    ["JPEG", SAMPLE.jpg, "image/jpeg"],
    ["GIF", SAMPLE.gif, "image/gif"],
    ["WebP", SAMPLE.webp, "image/webp"],
    ["HEIC", join(import.meta.dir, "../fixtures/images/portrait.heic"), "image/heic"],
    ["AVIF", join(import.meta.dir, "../fixtures/images/portrait.avif"), "image/avif"],
  ] as const)("recognises a real %s file from its first SNIFF_BYTES bytes", async (_label, path, type) => {
    const head = await readHead(path, SNIFF_BYTES);
    expect(head.length).toBe(SNIFF_BYTES);
    expect(sniffImageType(head)).toBe(type);
  });

  test.each([
    ["the PNG signature", bytes([0x89], "PNG\r\n\x1a\n", [0, 0, 0, 13]), "image/png"],
    ["a JPEG SOI followed by a marker", bytes([0xff, 0xd8, 0xff, 0xe1]), "image/jpeg"],
    ["GIF87a", bytes("GIF87a", [1, 0, 1, 0]), "image/gif"],
    ["GIF89a", bytes("GIF89a"), "image/gif"],
    ["RIFF....WEBP", bytes("RIFF", [0x10, 0, 0, 0], "WEBPVP8 "), "image/webp"],
    ["an ftyp box with major brand heic", bytes([0, 0, 0, 0x18], "ftypheic", [0, 0, 0, 0], "mif1heic"), "image/heic"],
    ["an ftyp box with major brand heix", bytes([0, 0, 0, 0x10], "ftypheix", [0, 0, 0, 0]), "image/heic"],
    ["an ftyp box with major brand avif", bytes([0, 0, 0, 0x18], "ftypavif", [0, 0, 0, 0], "avifmif1"), "image/avif"],
    ["an ftyp box with major brand avis", bytes([0, 0, 0, 0x10], "ftypavis", [0, 0, 0, 0]), "image/avif"],
    ["major brand mif1, compatible avif", bytes([0, 0, 0, 0x18], "ftypmif1", [0, 0, 0, 0], "miafavif"), "image/avif"],
    ["major brand mif1, compatible heic", bytes([0, 0, 0, 0x18], "ftypmif1", [0, 0, 0, 0], "mif1heic"), "image/heic"],
    ["major brand mif1, no more specific brand", bytes([0, 0, 0, 0x14], "ftypmif1", [0, 0, 0, 0], "mif1"), "image/heif"],
    ["major brand msf1, a brand past the ftyp size not read", bytes([0, 0, 0, 0x14], "ftypmsf1", [0, 0, 0, 0], "msf1avif"), "image/heif"],
  ] as const)("recognises %s (ENVELOPE.md V10)", (_label, head, type) => {
    expect(sniffImageType(head)).toBe(type);
  });

  test.each([
    ["an empty file", bytes()],
    ["plain text", bytes("hello, this is not an image\n")],
    ["a PDF", bytes("%PDF-1.7\n")],
    ["a BMP", bytes("BM", [0x36, 0, 0, 0, 0, 0, 0, 0])],
    ["a PNG signature cut short", bytes([0x89], "PNG\r\n\x1a")],
    ["a PNG signature with one byte changed", bytes([0x89], "PNG\r\n\x1a\x0b")],
    ["a PNG signature one byte late", bytes(" ", [0x89], "PNG\r\n\x1a\n")],
    ["a JPEG SOI without a following marker", bytes([0xff, 0xd8])],
    ["GIF88a", bytes("GIF88a")],
    ["a RIFF WAVE file", bytes("RIFF", [0x10, 0, 0, 0], "WAVEfmt ")],
    ["RIFF cut before its form type", bytes("RIFF", [0x10, 0, 0, 0], "WEB")],
    ["WEBP without RIFF", bytes("RIFX", [0x10, 0, 0, 0], "WEBP")],
    ["an MP4 (ftyp isom)", bytes([0, 0, 0, 0x18], "ftypisom", [0, 0, 0, 0], "isomiso2")],
    ["a QuickTime movie (ftyp qt  )", bytes([0, 0, 0, 0x14], "ftypqt  ", [0, 0, 0, 0], "qt  ")],
    ["an ftyp heic with a size below 16", bytes([0, 0, 0, 0x0c], "ftypheic", [0, 0, 0, 0])],
    ["an ftyp box cut before its brand", bytes([0, 0, 0, 0x18], "ftyphei")],
    ["a heic brand one byte late", bytes([0, 0, 0, 0, 0x18], "ftypheic", [0, 0, 0, 0])],
  ] as const)("refuses %s (ENVELOPE.md V10)", (_label, head) => {
    expect(sniffImageType(head)).toBeNull();
  });

  test("judges by content, not by the file name: a text file named .png is not an image", async () => {
    using dir = tempDir("sis-sniff-");
    await Bun.write(join(dir, "photo.png"), "just text\n");
    expect(sniffImageType(await readHead(join(dir, "photo.png"), SNIFF_BYTES))).toBeNull();
  });

  test("SNIFF_BYTES covers the longest signature (WebP's form type at offset 8) and a HEIF ftyp's first compatible brands", () => {
    expect(SNIFF_BYTES).toBeGreaterThanOrEqual(12);
    expect(SNIFF_BYTES).toBeGreaterThanOrEqual(32);
  });
});

describe("the dispatch table (src/image/formats.ts)", () => {
  test("holds exactly the protocol's content types, in the same order, so a new format needs both", () => {
    expect(FORMATS.map((f) => f.type)).toEqual([...CONTENT_TYPES]);
    const same: [ImageKind] extends [ContentType] ? ([ContentType] extends [ImageKind] ? true : false) : false = true;
    expect(same).toBe(true);
  });
});
