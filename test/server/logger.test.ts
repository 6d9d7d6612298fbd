/** The server log (O10–O13): levels, JSON and text lines, image names left out on request, secret-named fields never written. */
import { describe, expect, test } from "bun:test";
import { autoFormat, createLogger } from "../../src/server/logger.ts";
import { rateLimited } from "../../src/server/log-limiter.ts";

function capture(options: Parameters<typeof createLogger>[1]) {
  const lines: string[] = [];
  return { lines, log: createLogger((t) => lines.push(t), options) };
}

describe("createLogger", () => {
  test("writes the level given and the more severe ones; setLevel changes it at once (O11)", () => {
    const { lines, log } = capture({ level: "warn" });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => l.split(" ").slice(1, 3).join(" "))).toEqual(["warn w\n", "error e\n"]);
    log.setLevel("debug");
    log.debug("now");
    expect(lines[2]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z debug now\n$/);
    expect(log.level).toBe("debug");
  });

  test("the older form createLogger(write, quiet) still works: quiet writes warnings and errors only", () => {
    const { lines, log } = capture(true);
    log.info("i");
    log.warn("w");
    expect(lines.length).toBe(1);
  });

  test("json: one object a line with time, level and msg first; a field cannot replace them (O10)", () => {
    const { lines, log } = capture({ format: "json" });
    log.info("image stored", { id: "ab", owner: "alice", size: 3, msg: "forged", level: "error" });
    expect(lines.length).toBe(1);
    expect(lines[0]!.endsWith("}\n")).toBe(true);
    const entry = JSON.parse(lines[0]!);
    expect(Object.keys(entry).slice(0, 3)).toEqual(["time", "level", "msg"]);
    expect(entry).toMatchObject({ level: "info", msg: "image stored", id: "ab", owner: "alice", size: 3, field_msg: "forged", field_level: "error" });
  });

  test("text: TIME LEVEL message key=value, strings quoted, so a value cannot start a new line", () => {
    const { lines, log } = capture({ format: "text" });
    log.warn("login failed", { user: "eve\ninfo forged", address: "127.0.0.1", n: 2 });
    expect(lines).toEqual([expect.stringMatching(/^\S+ warn login failed user="eve\\ninfo forged" address="127\.0\.0\.1" n=2\n$/)]);
  });

  test("names: false leaves the image name out, and setNames turns it back on (O12)", () => {
    const { lines, log } = capture({ format: "json", names: false });
    log.info("image stored", { id: "ab", owner: "alice", name: "holiday.png" });
    log.setNames(true);
    log.info("image stored", { id: "ab", owner: "alice", name: "holiday.png" });
    expect(lines.map((l) => JSON.parse(l).name)).toEqual([undefined, "holiday.png"]);
  });

  test("a field named like a secret is written as [redacted], and bytes only as their length (O13)", () => {
    const { lines, log } = capture({ format: "json" });
    log.info("x", { password: "hunter2", invitationSecret: "inv", keyPem: "-----BEGIN", privateKey: "k", token: "t", der: new Uint8Array([1, 2, 3]) });
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ password: "[redacted]", invitationSecret: "[redacted]", keyPem: "[redacted]", privateKey: "[redacted]", token: "[redacted]", der: "[3 bytes]" });
    expect(lines[0]).not.toContain("hunter2");
  });

  test("auto is text on a terminal and JSON otherwise; json and text are taken as given", () => {
    expect([autoFormat("auto", true), autoFormat("auto", false), autoFormat("json", true), autoFormat("text", false)]).toEqual(["text", "json", "json", "text"]);
  });

  test("the rate-limited logger passes debug lines through the same gate", () => {
    const { lines, log } = capture({ level: "debug" });
    const limited = rateLimited(log, 10_000, () => 0);
    limited.debug("same");
    limited.debug("same");
    expect(lines.length).toBe(1);
  });
});
