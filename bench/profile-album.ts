/**
 * A CPU profile of `sis serve` (from source, `bun --cpu-prof-md`) while one `sis post DIR` (dist/sis)
 * uploads N images of M MiB over one connection: the per-image work of the upload path, with the
 * TLS handshake paid once. Profiles land in bench/results/profile/serve-album/.
 *   bun bench/profile-album.ts [N] [MIB]      (default 60 × 1 MiB)
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SIS } from "../test/support/cli.ts";
import { writeBigPng } from "../test/support/share.ts";
import { clockMs, MiB } from "./measure.ts";
import { SisRig } from "./sis-rig.ts";

const [count = 60, mib = 1] = process.argv.slice(2).map(Number);
const out = join(import.meta.dir, "results", "profile", "serve-album");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const root = mkdtempSync(join(tmpdir(), "sis-profile-album-"));
try {
  const rig = await SisRig.create(root);
  const dir = join(root, "album");
  mkdirSync(dir);
  for (let i = 0; i < count; i++) await writeBigPng(join(dir, `p${String(i).padStart(4, "0")}.png`), mib * MiB);
  const server = Bun.spawn([process.execPath, "--cpu-prof-md", "--cpu-prof-dir", out, join(import.meta.dir, "../cli/main.ts"), "serve", "--data", rig.data, "--port", String(rig.port), "--http-port", "0"], { stdout: "pipe", stderr: "pipe" });
  const reader = server.stdout.getReader();
  for (let text = ""; !/^http: /m.test(text); ) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sis serve ended: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const t0 = clockMs();
  const post = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", dir], { stdout: "ignore", stderr: "pipe" });
  if ((await post.exited) !== 0) throw new Error(`sis post failed: ${await new Response(post.stderr).text()}`);
  console.log(`${count} × ${mib} MiB posted in ${((clockMs() - t0) / 1000).toFixed(2)} s; profile in ${out}`);
  server.kill("SIGINT");
  await server.exited;
} finally {
  rmSync(root, { recursive: true, force: true });
}
