// Stats buckets -> chart series (one per category or destination, the largest first).
import type { Bucket, UsageRow } from "./api";

export interface Series {
  label: string;
  values: number[];
  color: string;
}

const PALETTE = ["#d1495b", "#2e86de", "#edae49", "#00798c", "#8e44ad", "#6c757d", "#30a14e", "#e67e22"];

/** x values (seconds) and one series per key of `pick(bucket)`, at most `max` (the rest summed as "other"). */
export function seriesBy(buckets: Bucket[], pick: (b: Bucket) => Record<string, number>, max = 6): { xs: number[]; series: Series[] } {
  const xs = buckets.map((b) => Date.parse(b.start) / 1000);
  const totals = new Map<string, number>();
  for (const b of buckets) for (const [k, v] of Object.entries(pick(b))) totals.set(k, (totals.get(k) ?? 0) + v);
  const keys = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
  const shown = keys.slice(0, max);
  const rest = keys.slice(max);
  const series: Series[] = shown.map((k, i) => ({
    label: k || "(none)",
    values: buckets.map((b) => pick(b)[k] ?? 0),
    color: PALETTE[i % PALETTE.length] ?? "#888",
  }));
  if (rest.length) {
    series.push({
      label: "other",
      values: buckets.map((b) => rest.reduce((n, k) => n + (pick(b)[k] ?? 0), 0)),
      color: "#999",
    });
  }
  return { xs, series };
}

/** Usage rows summed per host: requests, estimated tokens, the tokens the providers reported
 * (in and out), blocked, documents and images not scanned; most requests first. */
export function usageByHost(
  rows: Omit<UsageRow, "day" | "client" | "bytes">[],
) {
  const m = new Map<
    string,
    { host: string; requests: number; tokens: number; tokens_in: number; tokens_out: number; blocked: number; documents: number; images: number }
  >();
  for (const r of rows) {
    const e = m.get(r.host) ?? { host: r.host, requests: 0, tokens: 0, tokens_in: 0, tokens_out: 0, blocked: 0, documents: 0, images: 0 };
    e.requests += r.requests;
    e.tokens += r.est_tokens;
    e.tokens_in += r.input_tokens ?? 0;
    e.tokens_out += r.output_tokens ?? 0;
    e.blocked += r.blocked;
    e.documents += r.documents ?? 0;
    e.images += r.unscanned_images ?? 0;
    m.set(r.host, e);
  }
  return [...m.values()].sort((a, b) => b.requests - a.requests || a.host.localeCompare(b.host));
}
