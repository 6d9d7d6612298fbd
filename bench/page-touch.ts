/**
 * What writing into memory the machine has just freed costs (bench/README.md, "Issue 17 on a
 * second machine"): N new files of 3 MiB written (1 MiB writes) and fdatasynced, then removed;
 * the system CPU time of each round. Run twice in a row and then again after a pause: on a virtual
 * machine that hands freed pages back to its host (virtio-balloon free page reporting), a round
 * after the pause pays for the pages coming back, one right after the previous does not.
 *   bun bench/page-touch.ts [DIR=.] [N=100] [PAUSE_S=15]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join, resolve } from "node:path";

const dir = mkdtempSync(join(resolve(process.argv[2] ?? "."), "sis-page-touch-"));
const files = Number(process.argv[3] ?? 100);
const pauseSeconds = Number(process.argv[4] ?? 15);
const source = randomBytes(3 << 20);
const buffer = new Uint8Array(1 << 20);

async function round(label: string): Promise<void> {
  const before = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < files; i++) {
    const handle = await open(join(dir, `f${i}`), "wx");
    for (let k = 0; k < 3; k++) {
      buffer.set(source.subarray(k << 20, (k + 1) << 20));
      await handle.write(buffer, 0, buffer.length, k << 20);
    }
    await handle.datasync();
    await handle.close();
  }
  const used = process.cpuUsage(before);
  console.log(`${label}: ${files} × 3 MiB in ${(performance.now() - t0).toFixed(0)} ms, system ${(used.system / 1000).toFixed(0)} ms, user ${(used.user / 1000).toFixed(0)} ms`);
  for (let i = 0; i < files; i++) rmSync(join(dir, `f${i}`));
}

try {
  await round("first");
  await round("right after");
  await round("right after");
  await Bun.sleep(pauseSeconds * 1000);
  await round(`after ${pauseSeconds} s idle`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
