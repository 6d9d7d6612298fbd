/**
 * NEW_IMAGE fan-out to 5,000 authenticated watchers against the same broadcast
 * by a minimal plain-TCP server, repetition by repetition; and the server's
 * memory with those watchers idle.
 */
import { join } from "node:path";
import { Home } from "../src/client/home.ts";
import { postImage } from "../src/client/post.ts";
import { connectAs } from "../src/client/session.ts";
import { encodeMessage } from "../src/protocol/index.ts";
import { writeBigPng } from "../test/support/share.ts";
import { spawnChild, type Child, type Line } from "./child-process.ts";
import { clockMs, cpuSince, procStatusBytes, toMiB } from "./measure.ts";
import type { Results } from "./results.ts";
import type { SisRig } from "./sis-rig.ts";

export interface FanoutPlan {
  connections: number;
  workers: number;
  reps: number;
}

async function allLines(children: Child[], match: (l: Line) => boolean, timeoutMs: number, what: string): Promise<Line[]> {
  return Promise.all(children.map((c) => c.next(match, timeoutMs, what)));
}

/** A stopwatch of the CPU milliseconds `children` use together from now on. */
function cpuTogether(children: Child[]): () => number {
  const each = cpuSince(children.map((c) => c.pid));
  return () => each().reduce((a, b) => a + b, 0);
}

/** The moment the last receiver of `lines` got the message, and how many got it. */
function lastOf(lines: Line[]): { last: number; n: number } {
  return { last: Math.max(...lines.map((l) => Number(l.last))), n: lines.reduce((a, l) => a + Number(l.n), 0) };
}

export async function runFanout(rig: SisRig, results: Results, plan: FanoutPlan, log: (line: string) => void): Promise<void> {
  const per = Math.ceil(plan.connections / plan.workers);
  const server = await rig.server(["--max-connections-per-address", String(plan.connections * 2)]);
  const children: Child[] = [];
  let control: Awaited<ReturnType<typeof Bun.connect>> | null = null;
  try {
    const floor = spawnChild("floor-server.ts", []);
    children.push(floor);
    const { port, control: controlPort } = await floor.next((l) => "port" in l, 30_000, "its ports");

    const t0 = clockMs();
    const sisWorkers = Array.from({ length: plan.workers }, () => spawnChild("fanout-worker.ts", [rig.bob, String(per)]));
    children.push(...sisWorkers);
    const ready = await allLines(sisWorkers, (l) => "ready" in l, 300_000, "its connections");
    const connected = ready.reduce((a, l) => a + Number(l.ready), 0);
    const failed = ready.filter((l) => Number(l.failed) > 0);
    if (failed.length > 0) {
      const serverLog = server.output().split("\n").filter((l) => /warn|error|refus/i.test(l)).slice(-5).join("\n");
      throw new Error(`${failed.reduce((a, l) => a + Number(l.failed), 0)} sis connections failed: ${String(failed[0]!.error)}\nserver:\n${serverLog}`);
    }
    const connectSeconds = (clockMs() - t0) / 1000;
    const retries = ready.reduce((a, l) => a + Number(l.retries), 0);
    results.add("connect_5000_s", connectSeconds, "s", "TLS 1.3 with client certificate + HELLO, 8 at a time per worker process");
    log(`  ${connected} sis connections authenticated in ${connectSeconds.toFixed(1)} s (${retries} retried after a refusal: ${String(ready.find((l) => Number(l.retries) > 0)?.error ?? "none")})`);

    // Idle: let the handshakes' garbage settle, then read the resident set a few times.
    await Bun.sleep(2_000);
    for (let i = 0; i < 5; i++) {
      results.add("rss_server_5000_idle_mib", toMiB(procStatusBytes(server.proc.pid, "VmRSS") ?? 0), "MiB", "VmRSS of sis serve with 5,000 idle authenticated connections");
      await Bun.sleep(250);
    }

    const floorWorkers = Array.from({ length: plan.workers }, () => spawnChild("floor-worker.ts", [String(port), String(per)]));
    children.push(...floorWorkers);
    await allLines(floorWorkers, (l) => "ready" in l, 120_000, "its sockets");

    let ack: (() => void) | null = null;
    control = await Bun.connect({ hostname: "127.0.0.1", port: Number(controlPort), socket: { data: () => ack?.() } });

    const creds = await new Home(rig.alice).credentials();
    const poster = await connectAs(creds);
    const png = join(rig.root, "fanout.png");
    await writeBigPng(png, 4096);

    for (let rep = -1; rep < plan.reps; rep++) {
      // rep -1 warms up both paths and is not recorded.
      for (const w of sisWorkers) w.send({ cmd: "ping" });
      await allLines(sisWorkers, (l) => "pinged" in l, 60_000, "PONGs");

      // The receivers are idle between repetitions: what they use from here to the last NEW_IMAGE is the fan-out's.
      const sisCpu = cpuTogether(sisWorkers);
      const posted = await postImage(poster, creds, png, { name: `fanout-${rep + 1}.png`, keepMetadata: true });
      const stored = clockMs();
      const seq = posted.image.seq;
      const sis = lastOf(await allLines(sisWorkers, (l) => l.seq === seq, 60_000, `NEW_IMAGE #${seq} on every connection`));
      const sisCpuMs = sisCpu();

      const len = encodeMessage({ type: "NEW_IMAGE", image: posted.image }).length;
      for (const w of floorWorkers) w.send({ cmd: "expect", len, id: rep });
      await allLines(floorWorkers, (l) => l.expecting === rep, 30_000, "readiness");
      const floorCpu = cpuTogether(floorWorkers);
      const acked = new Promise<number>((resolve) => (ack = () => resolve(clockMs())));
      control.write(`${len}\n`);
      const sent = await acked;
      const floorDone = lastOf(await allLines(floorWorkers, (l) => l.id === rep, 60_000, "the floor broadcast"));
      const floorCpuMs = floorCpu();

      const sisMs = sis.last - stored;
      const floorMs = floorDone.last - sent;
      log(`  fan-out #${rep}${rep < 0 ? " (warm-up)" : ""}: sis ${sisMs.toFixed(1)} ms to ${sis.n}, floor ${floorMs.toFixed(1)} ms to ${floorDone.n} (${len} bytes each); receivers' CPU: sis ${sisCpuMs.toFixed(1)} ms, floor ${floorCpuMs.toFixed(1)} ms`);
      if (sis.n < plan.connections || floorDone.n < plan.connections) throw new Error(`fan-out reached ${sis.n} sis and ${floorDone.n} floor sockets of ${plan.connections}`);
      if (rep < 0) continue;
      results.add("fanout_5000_ms", sisMs, "ms", "POSTED at the poster → NEW_IMAGE on the last of 5,000 connections");
      results.add("fanout_floor_5000_ms", floorMs, "ms", "ack at the controller → same bytes on the last of 5,000 plain TCP sockets");
      results.add("fanout_receivers_cpu_ms", sisCpuMs, "ms", "CPU of the 4 sis receiving processes, post → last NEW_IMAGE (TLS, frames, decode)");
      results.add("fanout_floor_receivers_cpu_ms", floorCpuMs, "ms", "CPU of the 4 floor receiving processes for the same broadcast");
    }
    poster.close();
    results.ratio("fanout_ratio", "fanout_5000_ms", "fanout_floor_5000_ms");
  } finally {
    control?.end();
    await Promise.all(children.map((c) => c.stop()));
    await server.stop();
  }
}
