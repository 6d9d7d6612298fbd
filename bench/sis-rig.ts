/** The sis side of the bench: a data directory with two users, fresh servers on one port, watchers, timed posts. */
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Database } from "bun:sqlite";
import { Home } from "../src/client/home.ts";
import { saveWatchState } from "../src/client/watch-state.ts";
import { DATA_FILES } from "../src/server/data-dir.ts";
import { register, SIS, startServe, startWatch, type ServerProcess, type WatchProcess } from "../test/support/cli.ts";
import { clockMs, samplePeak } from "./measure.ts";

export interface PostRound {
  seconds: number;
  clientPeakBytes: number;
  id: string;
}

export class SisRig {
  readonly alice: string;
  readonly bob: string;
  readonly data: string;

  private constructor(
    readonly root: string,
    readonly port: number,
  ) {
    this.alice = join(root, "alice");
    this.bob = join(root, "bob");
    this.data = join(root, "data");
  }

  /**
   * Registers alice (poster) and bob (receiver) on a first server, then stops it:
   * registration runs argon2id (64 MiB), which would inflate a server's peak.
   */
  static async create(root: string): Promise<SisRig> {
    const first = await startServe(join(root, "data"));
    try {
      const rig = new SisRig(root, first.port);
      for (const [user, home] of [["alice", rig.alice], ["bob", rig.bob]] as const) {
        const r = await register(first, user, home);
        if (r.code !== 0) throw new Error(`cannot register ${user}: ${r.stderr}`);
      }
      return rig;
    } finally {
      await first.stop();
    }
  }

  /** A fresh server process on the rig's port and data directory. */
  async server(extra: string[] = []): Promise<ServerProcess> {
    const server = await startServe(this.data, ["--port", String(this.port), ...extra]);
    if (server.port !== this.port) throw new Error(`server came up on ${server.port}, not ${this.port}`);
    return server;
  }

  /**
   * A `sis watch` as bob into `outDir`, from the server's newest image on, connected. A fresh
   * folder's position is zero, so without it the watch first downloads every image the earlier
   * sections and sizes stored, while the first timed post runs: the album's first full run
   * measured 105 and 207 ms an image that way against 60, and each size's first post→watch
   * raced the download of the smaller sizes' images (bench/README.md, "Issue 17 on a sixth machine").
   */
  async watcher(outDir: string): Promise<WatchProcess> {
    await this.startAtNewest(outDir);
    const watch = startWatch(this.bob, outDir);
    await watch.waitFor(/ connected to /, 30_000);
    return watch;
  }

  private async startAtNewest(outDir: string): Promise<void> {
    const db = new Database(join(this.data, DATA_FILES.database), { readonly: true });
    const newest = (db.query("SELECT coalesce(max(seq), 0) AS seq FROM images").get() as { seq: number }).seq;
    db.close();
    const home = new Home(this.bob);
    const { server } = await home.readProfile();
    await saveWatchState(home, { server, lastSeq: newest, outDir: resolve(outDir) });
  }

  /**
   * `sis post` as alice; timed from the spawn to the file appearing in the
   * watcher's output directory (it appears only after verification: a link
   * of the finished temporary file). The client's peak RSS is its ru_maxrss.
   */
  async postAndWait(file: string, name: string, watch: WatchProcess, outDir: string, keepMetadata = false): Promise<PostRound> {
    const target = join(outDir, "alice", name);
    const t0 = clockMs();
    const proc = Bun.spawn([SIS, "post", "--home", this.alice, "--quiet", "--name", name, ...(keepMetadata ? ["--keep-metadata"] : []), file], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" },
    });
    const sampler = samplePeak(proc.pid);
    const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const deadline = t0 + 300_000;
    while (!existsSync(target)) {
      if (clockMs() > deadline) throw new Error(`${name} never appeared in ${outDir}`);
      if (proc.exitCode !== null && proc.exitCode !== 0) break;
      await Bun.sleep(2);
    }
    const seconds = (clockMs() - t0) / 1000;
    const [stdout, stderr, code] = await output;
    const polled = sampler.stop();
    if (code !== 0) throw new Error(`sis post ${name} failed (${code}): ${stderr}`);
    await watch.waitFor(new RegExp(`saved alice/${name.replace(/[.]/g, "\\.")} `), 60_000);
    const id = /id ([0-9a-f]{32})/.exec(stdout)?.[1] ?? "";
    // VmHWM as polled is the peak. A Bun child's resourceUsage().maxRSS is not usable here: it
    // also counts the parent's memory at spawn time (a spawned /bin/true reports the parent's size).
    return { seconds, clientPeakBytes: polled, id };
  }

  /** Removes a delivered image and its signature, to keep the disk use of a run flat. */
  static removeDelivered(outDir: string, name: string): void {
    rmSync(join(outDir, "alice", name), { force: true });
    rmSync(join(outDir, "alice", `${name}.p7s`), { force: true });
  }
}
