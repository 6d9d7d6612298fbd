/** RSS over time of a running process, so a long run can show whether memory stays flat (first half against second half). */
import { procStatusBytes } from "./measure.ts";
import { clockMs } from "./measure.ts";

export interface RssSample {
  at: number;
  rss: number;
  hwm: number;
}

export class RssTimeline {
  readonly samples: RssSample[] = [];
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    readonly pid: number,
    everyMs = 20,
  ) {
    this.take();
    this.timer = setInterval(() => this.take(), everyMs);
  }

  private take(): void {
    const rss = procStatusBytes(this.pid, "VmRSS");
    const hwm = procStatusBytes(this.pid, "VmHWM");
    if (rss !== null && hwm !== null) this.samples.push({ at: clockMs(), rss, hwm });
  }

  stop(): void {
    this.take();
    clearInterval(this.timer);
  }

  /** The highest VmRSS in each of `n` equal stretches of the sampled time (MiB, one decimal): the shape, for the log. */
  profile(n = 4): number[] {
    if (this.samples.length === 0) return [];
    const start = this.samples[0]!.at;
    const span = Math.max(1, this.samples.at(-1)!.at - start);
    const peaks = Array.from({ length: n }, () => 0);
    for (const s of this.samples) {
      const i = Math.min(n - 1, Math.floor(((s.at - start) / span) * n));
      peaks[i] = Math.max(peaks[i]!, s.rss);
    }
    return peaks.map((b) => Math.round((b / 1048576) * 10) / 10);
  }

  /**
   * The peak before `split` and the peak from it on. VmHWM is exact for the first half (it is
   * the peak so far, read at the last sample before the split); the second half is the highest
   * VmHWM after it when it grew, else the highest VmRSS sampled (the kernel's peak cannot tell
   * a second half that stayed below the first).
   */
  halves(split: number): { first: number; second: number } {
    const before = this.samples.filter((s) => s.at < split);
    const after = this.samples.filter((s) => s.at >= split);
    const first = Math.max(0, ...before.map((s) => s.hwm));
    const hwmAfter = Math.max(0, ...after.map((s) => s.hwm));
    const second = hwmAfter > first ? hwmAfter : Math.max(0, ...after.map((s) => s.rss));
    return { first, second };
  }
}
