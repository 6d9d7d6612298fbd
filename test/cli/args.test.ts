import { describe, expect, test } from "bun:test";
import { intOption, parse, sizeOption, UsageError } from "../../cli/args.ts";

describe("cli argument parsing", () => {
  test("parse() refuses an unknown flag as a usage error", () => {
    expect(() => parse(["--nope"], { home: { type: "string" } })).toThrow(UsageError);
  });

  test("parse() refuses extra positionals and missing ones", () => {
    expect(() => parse(["a", "b"], {}, { min: 1, max: 1 })).toThrow("unexpected argument 'b'");
    expect(() => parse([], {}, { min: 1, max: 1 })).toThrow("missing argument");
  });

  test("parse() reads string, boolean and short flags", () => {
    const { values, positionals } = parse(["-o", "out", "--json", "x"], { output: { type: "string", short: "o" }, json: { type: "boolean" } }, { max: 1 });
    expect(values.output).toBe("out");
    expect(values.json).toBe(true);
    expect(positionals).toEqual(["x"]);
  });

  test("sizeOption() takes bytes and K/M/G suffixes and refuses anything else", () => {
    expect(sizeOption("100M", "max-image-size", 0)).toBe(100 * 1024 * 1024);
    expect(sizeOption("1G", "max-image-size", 0)).toBe(1024 ** 3);
    expect(sizeOption("512k", "max-image-size", 0)).toBe(512 * 1024);
    expect(sizeOption("4096", "max-image-size", 0)).toBe(4096);
    expect(sizeOption(undefined, "max-image-size", 7)).toBe(7);
    expect(() => sizeOption("lots", "max-image-size", 0)).toThrow(UsageError);
  });

  test("intOption() enforces its range", () => {
    expect(intOption("1233", "port", 0, 0, 65535)).toBe(1233);
    expect(() => intOption("70000", "port", 0, 0, 65535)).toThrow("--port takes a whole number from 0 to 65535");
    expect(() => intOption("1.5", "port", 0, 0, 65535)).toThrow(UsageError);
  });
});
