/** The phone-style fixtures (make-photo-fixtures.sh) stripped in memory, with outside tools as judges: exiftool reads what is left, heif-convert decodes the HEIF. */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stripBytes } from "../../src/image/strip-bytes.ts";
import { StripError, stripStream } from "../../src/image/strip.ts";
import { tempDir } from "../support/cli.ts";
import { exiftool, fromSos, identifying, PHOTOS } from "./photo-judge.ts";
import { fixture, latin1 } from "./strip-images.ts";
import { oracleStrip } from "./strip-oracle.ts";

describe("phone-style photos", () => {
  for (const { file, kind, removed, kept } of PHOTOS) {
    test(`${file}: removes what identifies, keeps orientation and the Display P3 profile (exiftool judges), the same in every chunking`, async () => {
      const input = fixture(file);
      expect(identifying(exiftool(join(import.meta.dir, "../fixtures/images", file))).length).toBeGreaterThan(10); // the fixture really carries them

      const result = await stripBytes(kind, input);
      expect({ removed: result.removed, kept: result.kept }).toEqual({ removed: [...removed], kept: [...kept] });
      expect(result).toEqual(oracleStrip(kind, input));
      for (const size of [1, 5, 4096]) {
        const out: Uint8Array[] = [];
        const source = async function* () {
          for (let at = 0; at < input.length; at += size) yield input.subarray(at, at + size);
        };
        for await (const chunk of stripStream(kind, source, [])) out.push(chunk);
        expect(new Uint8Array(Buffer.concat(out))).toEqual(new Uint8Array(result.bytes));
      }
      for (const secret of ["F2LXK0XYZ123", "LS998877", "iPhone", "Fixture-", "2024:06:01", "Eiffel", "Paris", "FixtureCam"]) {
        expect({ secret, found: latin1(result.bytes).includes(secret) }).toEqual({ secret, found: false });
      }

      using dir = tempDir("sis-photo-");
      const path = join(dir, file);
      writeFileSync(path, result.bytes);
      const after = exiftool(path);
      expect(identifying(after)).toEqual([]);
      expect(after["ICC_Profile:ProfileDescription"]).toBe("Display P3");
      expect(after["ExifTool:Validate"]).toBe("0 0 0"); // -n: errors, warnings, minor warnings
      if (kind === "image/jpeg") {
        expect(after["IFD0:Orientation"]).toBe(6);
        expect(fromSos(result.bytes)).toEqual(fromSos(input)); // scan data byte for byte
      } else {
        expect(after["QuickTime:Rotation"]).toBe(270);
        expect(result.bytes.length).toBe(input.length);
        const png = join(dir, "decoded.png");
        const decoded = Bun.spawnSync(["heif-convert", path, png]);
        expect(decoded.exitCode).toBe(0);
        const info = (p: string) => Bun.spawnSync(["heif-info", p]).stdout.toString();
        expect(info(join(import.meta.dir, "../fixtures/images", file))).toContain("thumbnail: 64x40");
        expect(info(path)).toContain("image: 200x320 (id=1), primary");
        expect(info(path)).not.toContain("thumbnail");
        expect(exiftool(png)["PNG:ImageWidth"]).toBe(200); // the rotation applied: portrait, 200x320
        expect(exiftool(png)["PNG:ImageHeight"]).toBe(320);
      }
    });
  }

  test("a HEIC refused for one fault is refused the same by the oracle (sanity: the oracle is not the stream)", async () => {
    const input = fixture("portrait.heic").subarray(0, 100);
    await expect(stripBytes("image/heic", input)).rejects.toThrow(StripError);
    expect(() => oracleStrip("image/heic", input)).toThrow(StripError);
  });
});
