/** The run's table (markdown, also pasted into bench/README.md) and bench/results/latest.json. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { GOALS, judge, round } from "./goals.ts";
import type { Machine } from "./machine.ts";
import type { Results } from "./results.ts";

/** The figures of issue #6, in its order; anything else measured follows as "extra". */
export const MAIN_KEYS = [
  "post_get_10mib_s", "openssl_cms_10mib_s", "ratio_10mib",
  "post_get_100mib_s", "openssl_cms_100mib_s", "ratio_100mib",
  "rss_client_peak_mib_1mib", "rss_client_peak_mib_100mib",
  "rss_client_keepmeta_peak_mib_1mib", "rss_client_keepmeta_peak_mib_100mib",
  "rss_watcher_peak_mib_1mib", "rss_watcher_peak_mib_100mib",
  "rss_server_peak_mib_1mib", "rss_server_peak_mib_100mib",
  "fanout_5000_ms", "fanout_floor_5000_ms", "fanout_ratio", "rss_server_5000_idle_mib",
  "download_50x10mib_gbps", "tls_loopback_gbps", "download_ratio",
  "version_ms", "bun_bare_ms",
  "album_post_get_s", "openssl_cms_album_s", "album_ratio", "album_per_image_ms",
  "rss_album_post_first_half_mib", "rss_album_post_second_half_mib",
  "rss_album_watch_first_half_mib", "rss_album_watch_second_half_mib",
  "rss_album_serve_first_half_mib", "rss_album_serve_second_half_mib",
];

function orderedKeys(results: Results): string[] {
  const extra = [...results.figures.keys()].filter((k) => !MAIN_KEYS.includes(k)).sort();
  return [...MAIN_KEYS.filter((k) => results.figures.has(k)), ...extra];
}

export function renderTable(results: Results): string {
  const lines = ["| figure | median | min | max | n | goal | met? |", "|---|---:|---:|---:|---:|---|---|"];
  for (const key of orderedKeys(results)) {
    const f = results.figures.get(key)!;
    const goal = GOALS.find((g) => g.key === key);
    const verdict = goal ? judge(goal, results.figures) : null;
    const name = MAIN_KEYS.includes(key) ? `\`${key}\`` : `\`${key}\` (extra)`;
    lines.push(`| ${name} | ${round(f.median)}${f.unit === "ratio" ? "" : ` ${f.unit}`} | ${round(f.min)} | ${round(f.max)} | ${f.samples.length} | ${verdict?.text ?? ""} | ${verdict ? (verdict.met ? "yes" : "**no**") : ""} |`);
  }
  return lines.join("\n");
}

export function writeJson(path: string, results: Results, machine: Machine, run: Record<string, unknown>): void {
  const out: Record<string, unknown> = { machine, run };
  for (const key of orderedKeys(results)) {
    const f = results.figures.get(key)!;
    const goal = GOALS.find((g) => g.key === key);
    const verdict = goal ? judge(goal, results.figures) : null;
    out[key] = {
      median: round(f.median),
      min: round(f.min),
      max: round(f.max),
      unit: f.unit,
      samples: f.samples.map(round),
      ...(verdict ? { goal: verdict.text, met: verdict.met } : {}),
      ...(MAIN_KEYS.includes(key) ? {} : { extra: true }),
      ...(f.note ? { how: f.note } : {}),
    };
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(out, null, 2) + "\n");
}
