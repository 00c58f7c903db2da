// The Events view's filters: what the user picks -> the agent's `Filter`, and whether a live
// event belongs in the list on screen.
import type { Filter, LgEvent } from "./api";
import { categories } from "./format";

export type Range = "1h" | "24h" | "7d" | "30d" | "all";

export interface FilterState {
  range: Range;
  outcome: string;
  verdict: string;
  category: string;
  host: string;
  rule: string;
  text: string;
}

export const EMPTY_FILTER: FilterState = {
  range: "7d",
  outcome: "",
  verdict: "",
  category: "",
  host: "",
  rule: "",
  text: "",
};

const RANGE_MS: Record<Exclude<Range, "all">, number> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

/** The agent's filter for the state, one page of `limit` events. */
export function toFilter(s: FilterState, now: number, limit = 200): Filter {
  const one = (v: string) => (v.trim() ? [v.trim()] : []);
  return {
    since_ms: s.range === "all" ? null : now - RANGE_MS[s.range],
    until_ms: null,
    verdicts: one(s.verdict),
    outcomes: one(s.outcome),
    kinds: [],
    categories: one(s.category),
    hosts: one(s.host),
    rule: s.rule.trim() || null,
    text: s.text.trim() || null,
    before_seq: null,
    limit,
  };
}

/** Whether a live event passes the filter (the same fields the agent filters on). */
export function matches(e: LgEvent, f: Filter): boolean {
  const t = Date.parse(e.time);
  if (f.since_ms != null && t < f.since_ms) return false;
  if (f.until_ms != null && t >= f.until_ms) return false;
  if (f.verdicts.length && !f.verdicts.includes(e.verdict)) return false;
  if (f.outcomes.length && !f.outcomes.includes(e.outcome)) return false;
  if (f.kinds.length && !f.kinds.includes(e.kind)) return false;
  if (f.categories.length && !categories(e).some((c) => f.categories.includes(c))) return false;
  if (f.hosts.length && !f.hosts.includes(e.host ?? "")) return false;
  if (f.rule && !e.rules.some((r) => r.rule === f.rule)) return false;
  if (f.text) {
    const needle = f.text.toLowerCase();
    const hay = [
      ...e.rules.map((r) => r.rule),
      ...e.previews,
      e.host ?? "",
      e.model ?? "",
      e.endpoint ?? "",
      e.reason ?? "",
    ]
      .join(" ")
      .toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  return true;
}

/**
 * `rows` (newest first) with the live events that pass the filter and are not in it yet, on
 * top, newest first. Returns `rows` itself when nothing is added.
 */
export function withLive<T extends LgEvent>(rows: T[], live: LgEvent[], f: Filter): (T | LgEvent)[] {
  const have = new Set(rows.map((r) => r.id));
  const add = live.filter((e) => !have.has(e.id) && matches(e, f));
  if (add.length === 0) return rows;
  add.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return [...add, ...rows];
}
