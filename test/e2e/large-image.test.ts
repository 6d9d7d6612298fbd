/** A 100 MiB image through post and get: byte-identical, with client and server memory well under the image size. */
import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { register, startServe, tempDir } from "../support/cli.ts";
import { mib, MiB, samplePeakRss, sisMeasured } from "../support/peak-rss.ts";
import { listFiles, sha256File, writeBigPng } from "../support/share.ts";

const SIZE = 100 * MiB;

test("a 100 MiB image goes through post and get with peak memory of client and server below the image size", async () => {
  using root = tempDir("sis-large-");
  const alice = join(root, "alice");
  const bob = join(root, "bob");
  const data = join(root, "data");
  let port: number;
  {
    // Registration runs argon2id (64 MiB) in the server: register first, then measure a fresh server process.
    await using first = await startServe(data);
    port = first.port;
    const results = await Promise.all([register(first, "alice", alice), register(first, "bob", bob)]);
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
  await using server = await startServe(data, ["--port", String(port)]);
  expect(server.port).toBe(port);
  const serverPeak = samplePeakRss(server.proc.pid);
  try {
    const image = join(root, "big.png");
    await writeBigPng(image, SIZE);
    expect(statSync(image).size).toBe(SIZE);

    const posted = await sisMeasured(["post", "--home", alice, "--quiet", image]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    expect(posted.stdout).toMatch(/^posted alice\/big\.png id [0-9a-f]{32} \(100 MiB, image\/png\)\n$/);

    const out = join(root, "out");
    const got = await sisMeasured(["get", "--home", bob, "--quiet", "-o", out, "alice/big.png"]);
    expect({ code: got.code, stderr: got.stderr }).toEqual({ code: 0, stderr: "" });
    expect(got.stdout).toStartWith("saved alice/big.png: signature by alice");
    expect(await listFiles(out)).toEqual(["alice/big.png", "alice/big.png.p7s"]);
    expect(await sha256File(join(out, "alice", "big.png"))).toBe(await sha256File(image));

    const server = serverPeak.stop();
    console.log(`100 MiB image, peak RSS (VmHWM): client post ${mib(posted.peakRss)}, client get ${mib(got.peakRss)}, server ${mib(server)}`);
    // Readings exist (a zero would mean the sampler never saw the process).
    for (const peak of [posted.peakRss, got.peakRss, server]) expect(peak).toBeGreaterThan(10 * MiB);
    // One assertion for all three, so a failure shows every figure.
    const figures = { clientPost: mib(posted.peakRss), clientGet: mib(got.peakRss), server: mib(server), limit: mib(SIZE) };
    expect({ figures, postBelow: posted.peakRss < SIZE, getBelow: got.peakRss < SIZE, serverBelow: server < SIZE }).toEqual({ figures, postBelow: true, getBelow: true, serverBelow: true });
  } finally {
    serverPeak.stop();
  }
}, 120_000);
