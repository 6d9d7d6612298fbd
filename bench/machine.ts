/** The machine a run was taken on: CPU, cores, memory, kernel, Bun and OpenSSL versions, load. */
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  bun: string;
  openssl: string;
  loadAverage1m: number;
  openFilesLimit: string;
}

export function describeMachine(): Machine {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const openssl = Bun.spawnSync(["openssl", "version"]).stdout.toString().trim() || "not found";
  const ulimit = Bun.spawnSync(["bash", "-c", "echo $(ulimit -Sn)/$(ulimit -Hn)"]).stdout.toString().trim();
  return {
    cpuModel: model.trim(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    bun: Bun.version,
    openssl,
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
    openFilesLimit: ulimit,
  };
}
