/**
 * The server's CPU per upload, against the TLS floor: `sis serve` CPU time (all its threads) for
 * each `sis post` of a MIB MiB image (TLS handshake, HELLO, frame decoding, blob writes, fsyncs,
 * the commit, the time-stamp), beside the CPU the receiving end of one Bun TLS 1.3 stream
 * (bench/tls-stream.ts) spends on the same number of bytes. Not part of `npm run bench`.
 *   bun bench/upload-cpu.ts [UPLOADS] [MIB]      (default 10 × 10 MiB; dist/sis, or SIS_BIN)
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SIS } from "../test/support/cli.ts";
import { writeBigPng } from "../test/support/share.ts";
import { spawnChild } from "./child-process.ts";
import { cpuNs, MiB, summarize } from "./measure.ts";
import { makeOpensslCerts } from "./openssl-peer.ts";
import { SisRig } from "./sis-rig.ts";

const [uploads = 10, mib = 10] = process.argv.slice(2).map(Number);

/** User and system CPU milliseconds of the whole process (/proc/PID/stat utime, stime; 10 ms ticks). */
function userSysMs(pid: number): { user: number; sys: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) * 10, sys: Number(fields[12]) * 10 };
}

const root = mkdtempSync(join(tmpdir(), "sis-upload-cpu-"));
try {
  const opensslDir = join(root, "openssl");
  mkdirSync(opensslDir);
  makeOpensslCerts(opensslDir);
  const rig = await SisRig.create(root);
  const image = join(root, "image.png");
  await writeBigPng(image, mib * MiB);
  const server = await rig.server();
  const serverMs: number[] = [];
  let split = { user: 0, sys: 0 };
  try {
    for (let rep = -1; rep < uploads; rep++) {
      const before = cpuNs(server.proc.pid);
      if (rep === 0) split = userSysMs(server.proc.pid);
      const post = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", "--name", `u${rep + 1}.png`, image], { stdout: "ignore", stderr: "pipe" });
      if ((await post.exited) !== 0) throw new Error(`sis post failed: ${await new Response(post.stderr).text()}`);
      await Bun.sleep(50); // the hub's NEW_IMAGE and the session's close run after POSTED
      if (rep >= 0) serverMs.push((cpuNs(server.proc.pid) - before) / 1e6);
    }
    const end = userSysMs(server.proc.pid);
    split = { user: (end.user - split.user) / uploads, sys: (end.sys - split.sys) / uploads };
  } finally {
    await server.stop();
  }

  const tlsServer = spawnChild("tls-stream.ts", ["serve", join(opensslDir, "owner.pem"), join(opensslDir, "owner.key")]);
  const floorMs: number[] = [];
  try {
    const { port } = await tlsServer.next((l) => "port" in l, 30_000, "its port");
    const client = spawnChild("tls-stream.ts", ["client", String(port)]);
    try {
      await client.next((l) => "ready" in l, 30_000, "its handshake");
      for (let rep = -1; rep < uploads; rep++) {
        const before = cpuNs(client.pid);
        client.send({ cmd: "go", rep, bytes: mib * MiB });
        await client.next((l) => l.rep === rep, 60_000, "the stream");
        if (rep >= 0) floorMs.push((cpuNs(client.pid) - before) / 1e6);
      }
    } finally {
      await client.stop();
    }
  } finally {
    await tlsServer.stop();
  }
  const s = summarize(serverMs);
  const f = summarize(floorMs);
  const fmt = (x: number) => x.toFixed(1);
  console.log(`server CPU per ${mib} MiB upload: median ${fmt(s.median)} ms (min ${fmt(s.min)}, max ${fmt(s.max)}, n ${uploads})`);
  console.log(`  of which, on average: user ${fmt(split.user)} ms, system ${fmt(split.sys)} ms (/proc/PID/stat, 10 ms ticks over all uploads)`);
  console.log(`TLS floor (receiving ${mib} MiB on one Bun TLS 1.3 stream): median ${fmt(f.median)} ms (min ${fmt(f.min)}, max ${fmt(f.max)})`);
  console.log(`above the floor: ${fmt(s.median - f.median)} ms per upload`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
