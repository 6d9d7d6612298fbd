/** Measurement primitives: a shared clock, summaries of repeated samples, peak resident memory from /proc. */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

export const MiB = 1024 * 1024;

/** Wall-clock milliseconds comparable across processes on one machine (timeOrigin + monotonic offset). */
export function clockMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, samples };
}

/** One field of /proc/<pid>/status in bytes (VmHWM, VmRSS), or null once the process is gone. */
export function procStatusBytes(pid: number, field: "VmHWM" | "VmRSS"): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux ≥ 4.0), so a
 * long-lived process's peak can be read per repetition. False where refused.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Polls VmHWM of a running process until stopped; the highest reading is its peak. */
export function samplePeak(pid: number, everyMs = 5): { stop(): number } {
  let peak = 0;
  const take = () => {
    const now = procStatusBytes(pid, "VmHWM");
    if (now !== null && now > peak) peak = now;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return peak;
    },
  };
}

export function toMiB(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}

/** A CPU stopwatch over `pids`: the function returned gives each one's CPU milliseconds since this call (cpuNs). */
export function cpuSince(pids: number[]): () => number[] {
  const before = pids.map(cpuNs);
  return () => pids.map((pid, i) => (cpuNs(pid) - before[i]!) / 1e6);
}

/** CPU nanoseconds of every live thread of `pid` (schedstat's first field: time on a CPU). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}
