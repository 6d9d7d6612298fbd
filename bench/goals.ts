/** The goals of issue #6, as data: each names its figure, a bound, and what the bound is relative to. */
import type { Figure } from "./results.ts";

export interface Goal {
  key: string;
  op: "<=" | ">=";
  /** The bound, or a factor of another figure's median when `of` is given. */
  bound: number;
  of?: string;
}

export const GOALS: Goal[] = [
  { key: "ratio_10mib", op: "<=", bound: 0.4 },
  { key: "ratio_100mib", op: "<=", bound: 0.35 },
  { key: "rss_client_peak_mib_100mib", op: "<=", bound: 1.3, of: "rss_client_peak_mib_1mib" },
  { key: "rss_client_keepmeta_peak_mib_100mib", op: "<=", bound: 1.3, of: "rss_client_keepmeta_peak_mib_1mib" },
  { key: "rss_watcher_peak_mib_100mib", op: "<=", bound: 1.3, of: "rss_watcher_peak_mib_1mib" },
  { key: "rss_server_peak_mib_100mib", op: "<=", bound: 1.3, of: "rss_server_peak_mib_1mib" },
  { key: "fanout_ratio", op: "<=", bound: 1.5 },
  { key: "rss_server_5000_idle_mib", op: "<=", bound: 250 },
  { key: "download_ratio", op: ">=", bound: 0.6 },
  { key: "version_ms", op: "<=", bound: 2, of: "bun_bare_ms" },
  { key: "album_ratio", op: "<=", bound: 0.3 },
];

export interface Verdict {
  text: string;
  limit: number;
  met: boolean;
}

export function judge(goal: Goal, figures: Map<string, Figure>): Verdict | null {
  const figure = figures.get(goal.key);
  const base = goal.of ? figures.get(goal.of) : undefined;
  if (!figure || (goal.of && !base)) return null;
  const limit = base ? goal.bound * base.median : goal.bound;
  const sign = goal.op === "<=" ? "≤" : "≥";
  const text = goal.of ? `${sign} ${goal.bound}× ${goal.of} (${round(limit)})` : `${sign} ${goal.bound}`;
  return { text, limit, met: goal.op === "<=" ? figure.median <= limit : figure.median >= limit };
}

export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const digits = Math.abs(x) >= 100 ? 1 : Math.abs(x) >= 1 ? 3 : 4;
  return Number(x.toFixed(digits));
}
