// Formatting the guard's records for people.
import type { LgEvent, Protection } from "./api";
import { dateTime } from "./locale";

const OUTCOME: Record<string, string> = {
  blocked: "Blocked",
  refused: "Blocked",
  warned: "Held for your confirmation",
  redacted: "Redacted",
  overridden: "Allowed once",
  forwarded: "Sent",
  reported: "Reported as a false alarm",
  paused: "Protection paused",
  resumed: "Protection resumed",
};

/** The outcome as a user reads it. */
export function outcomeLabel(outcome: string): string {
  return OUTCOME[outcome] ?? outcome;
}

/** The colour class of an outcome: stop (red), hold (amber), change (blue), pass (grey). */
export function outcomeTone(outcome: string): "stop" | "hold" | "change" | "pass" {
  switch (outcome) {
    case "blocked":
    case "refused":
      return "stop";
    case "warned":
      return "hold";
    case "redacted":
    case "overridden":
      return "change";
    default:
      return "pass";
  }
}

/** One line, as the Rust side's `Event::headline`: "Blocked: aws-access-key-id in a prompt to chatgpt.com". */
export function headline(e: LgEvent): string {
  const what = outcomeLabel(e.outcome);
  let cause: string;
  const first = e.rules[0];
  if (first) {
    cause = e.rules.length > 1 ? `${first.rule} (+${e.rules.length - 1} more)` : first.rule;
  } else if (e.reason) {
    cause = e.reason;
  } else if (e.kind === "policy") {
    cause = `policy ${e.verdict}`;
  } else {
    cause = "policy";
  }
  if (e.kind === "reply") {
    if (first) return `Reply from ${e.host ?? "the service"} held ${cause}`;
    const tokens =
      e.input_tokens !== undefined && e.output_tokens !== undefined
        ? `${e.input_tokens} tokens in, ${e.output_tokens} out`
        : "no usage reported";
    return `Reply from ${e.host ?? "the service"}: ${tokens}`;
  }
  return e.host ? `${what}: ${cause} in a prompt to ${e.host}` : `${what}: ${cause}`;
}

/** The distinct categories of an event's rules, in first-seen order. */
export function categories(e: LgEvent): string[] {
  const out: string[] = [];
  for (const r of e.rules) if (!out.includes(r.category)) out.push(r.category);
  return out;
}

/** "3 s ago", "5 min ago", "2 h ago", else the local date and time. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return dateTime(t);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return dateTime(t);
}

/** 1234 -> "1.2 KB", 5_000_000 -> "4.8 MB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** 12345 -> "12,345". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Uptime as "3 d 4 h", "2 h 5 min", "40 s". */
export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${seconds} s`;
}

/** The protection state as the tray and the header say it. */
export function protectionText(p: Protection, pausedUntil: string | null, now: number = Date.now()): string {
  switch (p) {
    case "protected":
      return "Protected";
    case "paused": {
      if (!pausedUntil) return "Paused";
      const left = Math.max(0, Math.ceil((Date.parse(pausedUntil) - now) / 60000));
      return `Paused: ${left} min left`;
    }
    case "degraded":
      return "Not fully protected";
  }
}
