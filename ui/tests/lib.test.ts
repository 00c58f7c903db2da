import { describe, expect, it, vi } from "vitest";
import { bytes, duration, headline, outcomeLabel, protectionText, relativeTime } from "../src/lib/format";
import { EMPTY_FILTER, matches, toFilter } from "../src/lib/filters";
import { parseLink } from "../src/lib/links";
import { nearEnd, visibleWindow } from "../src/lib/virtual";
import { pieces } from "../src/lib/highlight";
import { seriesBy, usageByHost } from "../src/lib/charts";
import { event } from "./fake";

describe("format", () => {
  it("names outcomes and builds the headline as the guard does", () => {
    expect(outcomeLabel("warned")).toBe("Held for your confirmation");
    const e = event(1);
    expect(headline(e)).toBe("Blocked: aws-access-key-id in a prompt to chatgpt.com");
    e.rules.push({ rule: "email", category: "pii", action: "redact", count: 1 });
    expect(headline(e)).toBe("Blocked: aws-access-key-id (+1 more) in a prompt to chatgpt.com");
    expect(headline(event(2, { rules: [], reason: "malformed JSON", host: "", outcome: "refused" }))).toBe("Blocked: malformed JSON");
    const reply = event(3, { kind: "reply", outcome: "forwarded", host: "api.openai.com" });
    expect(headline(reply)).toBe("Reply from api.openai.com held aws-access-key-id");
    expect(headline({ ...reply, rules: [], input_tokens: 11, output_tokens: 42 })).toBe("Reply from api.openai.com: 11 tokens in, 42 out");
  });
  it("formats times, sizes and durations", () => {
    const now = Date.parse("2026-12-05T12:00:00Z");
    expect(relativeTime("2026-12-05T11:59:30Z", now)).toBe("30 s ago");
    expect(relativeTime("2026-12-05T11:00:00Z", now)).toBe("1 h ago");
    expect(bytes(2048)).toBe("2.0 KB");
    expect(duration(3 * 86400 + 4 * 3600)).toBe("3 d 4 h");
    expect(protectionText("paused", "2026-12-05T12:10:00Z", now)).toBe("Paused: 10 min left");
    expect(protectionText("degraded", null)).toBe("Not fully protected");
  });
});

describe("filters", () => {
  it("turn the form into the agent's filter", () => {
    const now = 1_000_000_000_000;
    const f = toFilter({ ...EMPTY_FILTER, range: "24h", outcome: "blocked", text: "  akia " }, now);
    expect(f.since_ms).toBe(now - 86_400_000);
    expect(f.outcomes).toEqual(["blocked"]);
    expect(f.verdicts).toEqual([]);
    expect(f.text).toBe("akia");
    expect(toFilter({ ...EMPTY_FILTER, range: "all" }, now).since_ms).toBeNull();
  });
  it("decide whether a live event belongs in the list", () => {
    const f = toFilter({ ...EMPTY_FILTER, outcome: "blocked", category: "secret" }, Date.now());
    expect(matches(event(1), f)).toBe(true);
    expect(matches(event(1, { outcome: "redacted" }), f)).toBe(false);
    expect(matches(event(1, { rules: [{ rule: "email", category: "pii", action: "redact", count: 1 }] }), f)).toBe(false);
    const text = toFilter({ ...EMPTY_FILTER, text: "4F7A" }, Date.now());
    expect(matches(event(1), text)).toBe(true);
    expect(matches(event(1, { previews: [] }), text)).toBe(false);
    const old = toFilter({ ...EMPTY_FILTER, range: "1h" }, Date.now());
    expect(matches(event(1, { time: "2020-01-01T00:00:00Z" }), old)).toBe(false);
  });
});

describe("links", () => {
  it("route leakguard:// links and refuse anything else", () => {
    expect(parseLink("leakguard://events/0123abcd")).toEqual({ view: "events", id: "0123abcd" });
    expect(parseLink("leakguard://allow/a1b2c3?event=ev9")).toEqual({ view: "allow", code: "a1b2c3", id: "ev9" });
    expect(parseLink("leakguard://health")).toEqual({ view: "health" });
    expect(parseLink("leakguard://allow/")).toBeNull();
    expect(parseLink("leakguard://events/a%20b%3Cscript%3E")).toEqual({ view: "events", id: undefined });
    expect(parseLink("https://events/x")).toBeNull();
    expect(parseLink("not a url")).toBeNull();
  });
});

describe("virtual list", () => {
  it("renders only the rows in view, with padding for the rest", () => {
    const w = visibleWindow(100_000, 32, 32 * 50_000, 640, 8);
    expect(w.start).toBe(50_000 - 8);
    expect(w.end).toBe(50_000 + 20 + 8);
    expect(w.padTop + (w.end - w.start) * 32 + w.padBottom).toBe(100_000 * 32);
    expect(visibleWindow(0, 32, 0, 640)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
    expect(nearEnd(200, 32, 32 * 150, 640)).toBe(true);
    expect(nearEnd(200, 32, 0, 640)).toBe(false);
  });
});

describe("highlight", () => {
  it("marks findings by UTF-16 offsets, emoji and all", () => {
    const text = "🔑 key AKIAQYLPMN5HJNGY4F7A end";
    const at = text.indexOf("AKIA");
    const f = { rule: "aws", description: "", category: "secret", severity: "critical", start: 0, end: 0, utf16_start: at, utf16_end: at + 20, preview: "", action: "block", by: "" };
    const p = pieces(text, [f, { ...f, severity: "low", utf16_start: at + 2 }]);
    expect(p.map((x) => x.text)).toEqual(["🔑 key ", "AKIAQYLPMN5HJNGY4F7A", " end"]);
    expect(p[1]?.finding?.severity).toBe("critical");
    expect(pieces("short", [{ ...f, utf16_start: 2, utf16_end: 99 }])).toEqual([{ text: "short", finding: null }]);
  });
});

describe("charts", () => {
  it("make one series per key, the largest first, the rest as other", () => {
    const b = (start: string, cat: Record<string, number>) => ({ start, total: 0, by_outcome: {}, by_category: cat, by_destination: {} });
    const { xs, series } = seriesBy([b("2026-12-05T00:00:00Z", { secret: 3, pii: 1, code: 1 }), b("2026-12-05T06:00:00Z", { pii: 5 })], (x) => x.by_category, 2);
    expect(xs).toEqual([Date.parse("2026-12-05T00:00:00Z") / 1000, Date.parse("2026-12-05T06:00:00Z") / 1000]);
    expect(series.map((s) => s.label)).toEqual(["pii", "secret", "other"]);
    expect(series[0]?.values).toEqual([1, 5]);
    expect(series[2]?.values).toEqual([1, 0]);
    expect(usageByHost([
      { host: "a", requests: 1, est_tokens: 5, blocked: 0, documents: 2, unscanned_images: 1 },
      { host: "b", requests: 3, est_tokens: 1, blocked: 1 },
      { host: "a", requests: 4, est_tokens: 5, blocked: 1, documents: 1, unscanned_images: 3, input_tokens: 7, output_tokens: 40 },
      { host: "a", requests: 1, est_tokens: 2, blocked: 0, input_tokens: 4, output_tokens: 2 },
    ])).toEqual([
      { host: "a", requests: 6, tokens: 12, tokens_in: 11, tokens_out: 42, blocked: 1, documents: 3, images: 4 },
      { host: "b", requests: 3, tokens: 1, tokens_in: 0, tokens_out: 0, blocked: 1, documents: 0, images: 0 },
    ]);
  });
});

describe("locale", () => {
  it("falls back to en-US when the system locale is one Intl refuses", async () => {
    vi.resetModules();
    const real = Object.getOwnPropertyDescriptor(Navigator.prototype, "language");
    Object.defineProperty(navigator, "language", { value: "C", configurable: true });
    try {
      const { LOCALE, dateTime } = await import("../src/lib/locale");
      expect(LOCALE).toBe("en-US");
      expect(navigator.language).toBe("en-US");
      expect(() => new Intl.NumberFormat(navigator.language)).not.toThrow();
      expect(dateTime(0)).toMatch(/1970|1969/);
    } finally {
      delete (navigator as unknown as Record<string, unknown>).language;
      delete (navigator as unknown as Record<string, unknown>).languages;
      if (real) expect(navigator.language).not.toBe("C");
    }
  });

  it("formats dates and times as Date's own locale methods do, with formatters made once", async () => {
    vi.resetModules();
    const { LOCALE, dateTime, timeOfDay } = await import("../src/lib/locale");
    for (const t of [0, 1_700_000_000_000, Date.parse("2026-12-07T23:59:58Z"), "2026-02-28T12:00:00Z"]) {
      expect(dateTime(t)).toBe(new Date(t).toLocaleString(LOCALE));
      expect(timeOfDay(t)).toBe(new Date(t).toLocaleTimeString(LOCALE));
    }
  });
});

describe("live events", () => {
  it("go on top of a loaded page once, newest first, only if they pass the filter", async () => {
    const { withLive } = await import("../src/lib/filters");
    const f = toFilter({ ...EMPTY_FILTER, outcome: "blocked" }, Date.now());
    const page = [event(3), event(2)];
    const live = [event(5), event(4, { outcome: "redacted" }), event(3), event(6)];
    expect(withLive(page, live, f).map((e) => e.id)).toEqual(["ev6", "ev5", "ev3", "ev2"]);
    expect(withLive(page, [event(2)], f)).toBe(page);
  });
});
