/**
 * CPU profiles of one 100 MiB post → watch: server, watcher and poster each run
 * from source under `bun --cpu-prof-md`, into bench/results/profile/{serve,watch,post}/.
 *   bun bench/profile.ts [MiB] [--keep-metadata]     (SIS_PROFILE_SRC=DIR profiles another checkout)
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeBigPng } from "../test/support/share.ts";
import { clockMs, MiB } from "./measure.ts";
import { SisRig } from "./sis-rig.ts";

const size = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 100) * MiB;
const keep = process.argv.includes("--keep-metadata");
const src = resolve(process.env.SIS_PROFILE_SRC ?? join(import.meta.dir, ".."));
const outRoot = join(import.meta.dir, "results", "profile");
rmSync(outRoot, { recursive: true, force: true });

function profiled(name: string, args: string[]) {
  const dir = join(outRoot, name);
  mkdirSync(dir, { recursive: true });
  return Bun.spawn([process.execPath, "--cpu-prof-md", "--cpu-prof-dir", dir, join(src, "cli/main.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
}

async function waitLine(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  let text = "";
  const reader = stream.getReader();
  while (!pattern.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ended before ${pattern}: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text;
}

const root = mkdtempSync(join(tmpdir(), "sis-profile-"));
try {
  const rig = await SisRig.create(root);
  const image = join(root, "big.png");
  await writeBigPng(image, size);
  const out = join(root, "out");
  const server = profiled("serve", ["serve", "--data", rig.data, "--port", String(rig.port), "--http-port", "0"]);
  await waitLine(server.stdout, /^http: /m);
  const watch = profiled("watch", ["watch", "--home", rig.bob, "-o", out]);
  await waitLine(watch.stdout, / connected to /);
  const t0 = clockMs();
  const post = profiled("post", ["post", "--home", rig.alice, "--quiet", ...(keep ? ["--keep-metadata"] : []), image]);
  const postExit = post.exited.then((code) => ({ code, at: clockMs() }));
  while (!existsSync(join(out, "alice", "big.png"))) await Bun.sleep(2);
  const delivered = clockMs();
  const posted = await postExit;
  if (posted.code !== 0) throw new Error(`post failed: ${await new Response(post.stderr).text()}`);
  console.log(`${size / MiB} MiB${keep ? " --keep-metadata" : ""}: post exited after ${((posted.at - t0) / 1000).toFixed(2)} s, delivered after ${((delivered - t0) / 1000).toFixed(2)} s (from source, profiled)`);
  for (const p of [watch, server]) {
    p.kill("SIGINT");
    await p.exited;
  }
  console.log(`profiles in ${outRoot}/{serve,watch,post}/*.md`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
