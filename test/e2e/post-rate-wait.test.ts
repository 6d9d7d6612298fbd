/** An album larger than the server's post rate (PROTOCOL.md M26) posts without the person knowing the rate: sis waits out RATE_LIMITED, says so once, and goes on. Through the compiled binary. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { sis, startWatch } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { escapeRegExp, imageLines, SAMPLE } from "../support/share.ts";

// One wait of up to a minute (the sliding minute of --post-rate), plus the posts themselves.
setDefaultTimeout(180_000);

const RATE = 5;
let box: Sandbox;

beforeAll(async () => {
  box = await openSandbox("sis-post-rate-", ["alice", "bob"], ["--post-rate", String(RATE)]);
}, 60_000);

afterAll(async () => {
  await box?.close();
});

describe(`sis post DIR against a server with --post-rate ${RATE}`, () => {
  test("8 images: the refused ones wait, one line says so, all 8 are posted and reach a watch exactly once", async () => {
    const dir = box.freshDir("album");
    const samples = [SAMPLE.png, SAMPLE.jpg, SAMPLE.gif, SAMPLE.webp];
    const names = Array.from({ length: 8 }, (_, i) => `holiday-${i + 1}${samples[i % 4]!.slice(samples[i % 4]!.lastIndexOf("."))}`);
    names.forEach((name, i) => copyFileSync(samples[i % 4]!, join(dir, name)));
    const out = box.freshDir("watch-out");
    await using w = startWatch(box.home("bob"), out);
    await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);

    const r = await sis(["post", "--home", box.home("alice"), dir], { timeoutMs: 170_000 });
    expect(r.code).toBe(0);
    // Said once, with the server's rate, the wait and the files left; no error.
    expect(r.stderr).toMatch(new RegExp(`^sis: the server takes at most ${RATE} posts a minute per user; waiting \\d+ s, then going on with 3 more\\n$`));
    const posted = r.stdout.split("\n").filter((l) => l.startsWith("posted alice/")).map((l) => /^posted alice\/(\S+) /.exec(l)![1]);
    expect(posted).toEqual(names);
    expect(r.stdout).toEndWith("posted 8 files\n");

    for (const name of names) await w.waitFor(new RegExp(`^\\S+ saved alice/${escapeRegExp(name)} \\(#\\d+\\)`), 60_000);
    const about = imageLines(w).filter((l) => l.includes(" alice/holiday-")).map((l) => /alice\/(\S+)/.exec(l)![1]).sort();
    expect(about).toEqual([...names].sort());
  });

  test("a single file over the rate waits too, says so, and is posted", async () => {
    // Bob uses this minute's posts in one folder (no wait: it fits), then one file more.
    const dir = box.freshDir("five");
    for (let i = 1; i <= RATE; i++) copyFileSync(SAMPLE.png, join(dir, `five-${i}.png`));
    const five = await sis(["post", "--home", box.home("bob"), "--quiet", dir]);
    expect({ code: five.code, stderr: five.stderr }).toEqual({ code: 0, stderr: "" });
    const r = await sis(["post", "--home", box.home("bob"), "--name", "single.png", SAMPLE.png], { timeoutMs: 170_000 });
    expect(r.stderr).toMatch(new RegExp(`^sis: the server takes at most ${RATE} posts a minute per user; waiting \\d+ s, then trying again\\n$`));
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("posted bob/single.png id ");
  });
});
