/**
 * Aggregate download throughput of 50 concurrent receivers of one 10 MiB image,
 * against one Bun TLS 1.3 stream over loopback, repetition by repetition.
 */
import { join } from "node:path";
import { spawnChild, type Child } from "./child-process.ts";
import { cpuSince } from "./measure.ts";
import type { Results } from "./results.ts";
import type { SisRig } from "./sis-rig.ts";

const gbps = (bytes: number, seconds: number) => (bytes * 8) / seconds / 1e9;

export async function runDownload(rig: SisRig, imageId: string, opensslDir: string, results: Results, plan: { downloaders: number; reps: number }, log: (line: string) => void): Promise<void> {
  const server = await rig.server();
  const children: Child[] = [];
  try {
    const downloaders = spawnChild("download-worker.ts", [rig.bob, String(plan.downloaders), imageId]);
    const tlsServer = spawnChild("tls-stream.ts", ["serve", join(opensslDir, "owner.pem"), join(opensslDir, "owner.key")]);
    children.push(downloaders, tlsServer);
    await downloaders.next((l) => "ready" in l, 120_000, "its connections");
    const { port } = await tlsServer.next((l) => "port" in l, 30_000, "its port");
    const tlsClient = spawnChild("tls-stream.ts", ["client", String(port)]);
    children.push(tlsClient);
    await tlsClient.next((l) => "ready" in l, 30_000, "its handshake");

    for (let rep = -1; rep < plan.reps; rep++) {
      // rep -1 warms up both paths and is not recorded.
      const sisCpu = cpuSince([server.proc.pid, downloaders.pid]);
      downloaders.send({ cmd: "go", rep });
      const dl = await downloaders.next((l) => l.rep === rep, 300_000, "the downloads");
      const cpu = sisCpu();
      const streamCpu = cpuSince([tlsServer.pid, tlsClient.pid]);
      tlsClient.send({ cmd: "go", rep, bytes: dl.bytes });
      const tls = await tlsClient.next((l) => l.rep === rep, 300_000, "the stream");
      const tlsCpu = streamCpu();
      const dlGbps = gbps(Number(dl.bytes), Number(dl.seconds));
      const tlsGbps = gbps(Number(tls.bytes), Number(tls.seconds));
      log(`  download #${rep}${rep < 0 ? " (warm-up)" : ""}: ${plan.downloaders} × ${(Number(dl.bytes) / plan.downloaders / 2 ** 20).toFixed(2)} MiB in ${Number(dl.seconds).toFixed(3)} s = ${dlGbps.toFixed(2)} Gbit/s; one TLS stream ${tlsGbps.toFixed(2)} Gbit/s; CPU: sis serve ${cpu[0]!.toFixed(0)} ms, receivers ${cpu[1]!.toFixed(0)} ms, stream ${tlsCpu[0]!.toFixed(0)} + ${tlsCpu[1]!.toFixed(0)} ms`);
      if (rep < 0) continue;
      results.add("download_50x10mib_gbps", dlGbps, "Gbit/s", "50 connections: DOWNLOAD → all ciphertext frames consumed (no decryption, no disk)");
      results.add("tls_loopback_gbps", tlsGbps, "Gbit/s", "one Bun TLS 1.3 stream, process to process, the same number of bytes");
      results.add("download_server_cpu_ms", cpu[0]!, "ms", "CPU of sis serve over the round (every thread)");
      results.add("download_receivers_cpu_ms", cpu[1]!, "ms", "CPU of the process of the 50 receiving connections over the round");
      results.add("tls_stream_cpu_ms", tlsCpu[0]! + tlsCpu[1]!, "ms", "CPU of the stream's two processes, sender + receiver");
    }
    results.ratio("download_ratio", "download_50x10mib_gbps", "tls_loopback_gbps");
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await server.stop();
  }
}
