/** Peak resident memory of a child process: VmHWM polled from /proc/<pid>/status while it runs. */
import { readFileSync } from "node:fs";
import { SIS, type Result } from "./cli.ts";

/** VmHWM in bytes, or null once the process is gone. */
export function readVmHwm(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface PeakSampler {
  /** The highest VmHWM read so far (VmHWM only grows, so this is the last reading before exit). */
  readonly peak: number;
  stop(): number;
}

/** Samples a running process every few milliseconds until stopped. */
export function samplePeakRss(pid: number, everyMs = 5): PeakSampler {
  let peak = 0;
  const take = () => {
    const now = readVmHwm(pid);
    if (now !== null && now > peak) peak = now;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    get peak() {
      return peak;
    },
    stop() {
      take();
      clearInterval(timer);
      return peak;
    },
  };
}

/** Runs `sis ARGS` like sis() does, and also reports its peak RSS in bytes. */
export async function sisMeasured(args: string[], opts: { timeoutMs?: number } = {}): Promise<Result & { peakRss: number }> {
  const proc = Bun.spawn([SIS, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" },
  });
  const sampler = samplePeakRss(proc.pid);
  const timer = setTimeout(() => proc.kill(), opts.timeoutMs ?? 120_000);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr, peakRss: sampler.stop() };
  } finally {
    clearTimeout(timer);
    sampler.stop();
  }
}

export const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
