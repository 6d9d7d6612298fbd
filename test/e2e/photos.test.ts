/** Phone photos through the compiled binary, post → watch, exiftool judging what arrives: orientation and colour profile kept, what identifies gone, JPEG scans byte for byte, HEIC/AVIF still decoding upright. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sis, startWatch } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { escapeRegExp, sameFiles } from "../support/share.ts";
import { exiftool, fromSos, identifying } from "../image/photo-judge.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/images");

let box: Sandbox;
let alice: string;
let bob: string;

beforeAll(async () => {
  box = await openSandbox("sis-photos-", ["alice", "bob"]);
  alice = box.home("alice");
  bob = box.home("bob");
}, 60_000);

afterAll(async () => {
  await box?.close();
});

const savedLine = (name: string) => new RegExp(`^\\S+ saved alice/${escapeRegExp(name)} \\(#\\d+\\): signature by alice`);

const CASES = [
  {
    file: "portrait.jpg",
    type: "image/jpeg",
    removed: "JPEG APP1 Exif, JPEG APP13 Photoshop/IPTC, JPEG APP1 XMP, JPEG COM",
    kept: "Exif Orientation 6 (rotate 90 CW), JPEG APP2 ICC colour profile",
  },
  {
    file: "portrait.heic",
    type: "image/heic",
    removed: "HEIF Exif item, HEIF XMP item, HEIF thumbnail tile, HEIF thumbnail",
    kept: "HEIF colr ICC colour profile (prof), HEIF irot (rotate 270 anti-clockwise)",
  },
  {
    file: "portrait.avif",
    type: "image/avif",
    removed: "HEIF Exif item, HEIF XMP item, HEIF thumbnail",
    kept: "HEIF colr ICC colour profile (prof), HEIF colr nclx colour, HEIF irot (rotate 270 anti-clockwise)",
  },
] as const;

describe("phone photos through post and watch", () => {
  test("sis post says what it removed and kept; bob's watch saves each photo upright, in Display P3, with nothing that identifies (exiftool judges)", async () => {
    const out = box.freshDir("out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);
    for (const { file, type, removed, kept } of CASES) {
      const r = await sis(["post", "--home", alice, join(FIXTURES, file)]);
      expect({ file, code: r.code, stderr: r.stderr }).toEqual({ file, code: 0, stderr: "" });
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(new RegExp(`^posted alice/${escapeRegExp(file)} id [0-9a-f]{32} \\(.*, ${escapeRegExp(type)}\\)$`));
      expect(lines.slice(1)).toEqual([`  removed metadata: ${removed}`, `  kept (it changes how the picture looks): ${kept}`]);
    }
    for (const { file } of CASES) await w.waitFor(savedLine(file));

    for (const { file, type } of CASES) {
      const original = new Uint8Array(readFileSync(join(FIXTURES, file)));
      const saved = join(out, "alice", file);
      const received = new Uint8Array(readFileSync(saved));
      const tags = exiftool(saved);
      expect({ file, identifying: identifying(tags) }).toEqual({ file, identifying: [] });
      expect({ file, icc: tags["ICC_Profile:ProfileDescription"], valid: tags["ExifTool:Validate"] }).toEqual({ file, icc: "Display P3", valid: "0 0 0" });
      for (const secret of ["F2LXK0XYZ123", "LS998877", "iPhone", "Fixture-", "2024:06:01", "Eiffel", "FixtureCam"]) {
        expect({ file, secret, found: Buffer.from(received).includes(secret) }).toEqual({ file, secret, found: false });
      }
      if (type === "image/jpeg") {
        expect(tags["IFD0:Orientation"]).toBe(6);
        expect(tags["IFD1:ThumbnailImage"]).toBeUndefined();
        expect(Buffer.compare(fromSos(received), fromSos(original))).toBe(0); // SOS to EOI, byte for byte
      } else {
        expect(tags["QuickTime:Rotation"]).toBe(270);
        expect(received.length).toBe(original.length);
        expect(Bun.spawnSync(["heif-info", saved]).stdout.toString()).not.toContain("thumbnail");
        const png = join(out, `${file}.png`);
        expect(Bun.spawnSync(["heif-convert", saved, png]).exitCode).toBe(0);
        const decoded = exiftool(png);
        expect({ file, width: decoded["PNG:ImageWidth"], height: decoded["PNG:ImageHeight"] }).toEqual({ file, width: 200, height: 320 });
      }
    }
    await w.stop();
    expect(w.proc.exitCode).toBe(0);
  });

  test("--keep-metadata posts the photo unchanged: the watch saves the very same bytes", async () => {
    const out = box.freshDir("out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to /);
    for (const file of ["portrait.jpg", "portrait.heic"]) {
      const name = `kept-${file}`;
      const r = await sis(["post", "--home", alice, "--keep-metadata", "--name", name, join(FIXTURES, file)]);
      expect({ code: r.code, stderr: r.stderr, lines: r.stdout.trimEnd().split("\n").length }).toEqual({ code: 0, stderr: "", lines: 1 });
      await w.waitFor(savedLine(name));
      expect(await sameFiles(join(FIXTURES, file), join(out, "alice", name))).toBe(true);
    }
    await w.stop();
  });
});
