/** The figures of one run: samples per key, summarized; ratios from paired samples. */
import { summarize, type Summary } from "./measure.ts";

export interface Figure extends Summary {
  unit: string;
  /** How the figure was taken, one line. */
  note?: string;
}

export class Results {
  readonly figures = new Map<string, Figure>();
  private readonly pending = new Map<string, { unit: string; samples: number[]; note?: string }>();

  add(key: string, value: number, unit: string, note?: string): void {
    const entry = this.pending.get(key) ?? { unit, samples: [], ...(note ? { note } : {}) };
    entry.samples.push(value);
    this.pending.set(key, entry);
    this.figures.set(key, { ...summarize(entry.samples), unit: entry.unit, ...(entry.note ? { note: entry.note } : {}) });
  }

  get(key: string): Figure | undefined {
    return this.figures.get(key);
  }

  /**
   * key = top / bottom: the median is the quotient of the two medians (the
   * figure the goal is about); min and max are the extremes of the per-repetition
   * quotients of samples taken side by side (repetition i with repetition i).
   */
  ratio(key: string, top: string, bottom: string, note?: string): void {
    const a = this.figures.get(top);
    const b = this.figures.get(bottom);
    if (!a || !b) return;
    const n = Math.min(a.samples.length, b.samples.length);
    const paired = Array.from({ length: n }, (_, i) => a.samples[i]! / b.samples[i]!);
    const s = summarize(paired);
    this.figures.set(key, { median: a.median / b.median, min: s.min, max: s.max, samples: paired, unit: "ratio", note: note ?? `${top} / ${bottom}` });
  }
}
