// A Backend for tests: events in memory, the agent's filters applied, calls recorded, live
// events and routes pushed by the test.
import type {
  AppInfo, Backend, Explanation, Filter, Health, LgEvent, Page, PolicyInForce, Route, Stats, StoredEvent,
} from "../src/lib/api";
import { matches } from "../src/lib/filters";

export function event(i: number, over: Partial<LgEvent> = {}): StoredEvent {
  return {
    seq: i,
    id: `ev${i}`,
    time: new Date(Date.now() - (1000 - i) * 1000).toISOString(),
    kind: "request",
    host: i % 2 ? "chatgpt.com" : "api.openai.com",
    verdict: "block",
    outcome: "blocked",
    decided_by: "actions.categories.secret",
    rules: [{ rule: "aws-access-key-id", category: "secret", action: "block", count: 1 }],
    previews: ["AKIA…4F7A"],
    bytes: 100,
    text_bytes: 90,
    est_tokens: 23,
    latency_us: 400,
    ...over,
  };
}

export class FakeBackend implements Backend {
  store: StoredEvent[] = [];
  calls: string[] = [];
  allowed: [string, string][] = [];
  private eventListeners: ((e: LgEvent) => void)[] = [];
  private routeListeners: ((r: Route) => void)[] = [];
  health_: Health = {
    protection: "protected", reasons: [], version: "0.1.0", device: "laptop-42", started: new Date().toISOString(), uptime_s: 90,
    listen: "127.0.0.1:8787", pac_url: "http://127.0.0.1:8787/proxy.pac", ca_cert: "", ca_uncovered: [],
    policy: "default (abc123)", paused_until: null, counters: { requests: 3 }, events_db: "/tmp/x/events.db",
    siem: [], control: "/tmp/x/control.sock",
    destinations: [
      { group: "enterprise", host: "api.example", ok: true, detail: "", checked: new Date().toISOString() },
      { group: "consumer", host: "chat.example", ok: false, detail: "cannot connect to chat.example:443 (refused); check the network", checked: new Date().toISOString() },
    ],
  };
  policy_: PolicyInForce = {
    label: "default (abc123)", origin: "managed", managed_path: "/etc/leakguard/policy.json", local_path: null,
    signature: { required: true, key: "ed25519:abcd", verified: true }, read_only: true,
    loaded_at: new Date().toISOString(), reloads: 2,
    rejected: [{ time: new Date().toISOString(), code: "policy_invalid", message: "3:7: actions: `blok` is not an action" }],
    policy: {
      name: "Acme", version: 1,
      destinations: [{ name: "consumer-chat", hosts: ["chatgpt.com", "claude.ai"], mode: "inspect" }, { name: "off", hosts: ["deepseek.com"], mode: "block_all" }],
      actions: { categories: { secret: "block", pii: "redact" } }, exceptions: [], controls: { pause_minutes: 30 },
    },
    local: null,
  };

  async appInfo(): Promise<AppInfo> { return { started_guard: false, data_dir: "/tmp/x", control: "/tmp/x/control.sock" }; }
  async health(): Promise<Health> { this.calls.push("health"); return this.health_; }
  async events(f: Filter): Promise<Page> {
    this.calls.push("events");
    const all = this.store.filter((e) => matches(e, f) && (f.before_seq == null || e.seq < f.before_seq)).sort((a, b) => b.seq - a.seq);
    const events = all.slice(0, f.limit);
    return { events, next: all.length > f.limit ? (events[events.length - 1]?.seq ?? null) : null };
  }
  async event(id: string) { return this.store.find((e) => e.id === id) ?? null; }
  async stats(): Promise<Stats> {
    this.calls.push("stats");
    const by_outcome: Record<string, number> = {};
    for (const e of this.store) by_outcome[e.outcome] = (by_outcome[e.outcome] ?? 0) + 1;
    return {
      since: "", until: "", bucket_seconds: 3600, total: this.store.length, by_outcome,
      buckets: [{ start: new Date().toISOString(), total: this.store.length, by_outcome, by_category: { secret: this.store.length }, by_destination: { "chatgpt.com": this.store.length } }],
      top_rules: [["aws-access-key-id", "secret", this.store.length, this.store.length]],
      top_destinations: [["chatgpt.com", this.store.length, this.store.length]],
    };
  }
  async usage() { return [{ day: "2026-12-05", host: "chatgpt.com", client: "browser", requests: 4, bytes: 400, est_tokens: 100, blocked: 2 }]; }
  /** What the save dialog answers: a path, or null (cancelled). */
  exportTo: string | null = "/home/user/leakguard-events.jsonl";
  async exportEvents() {
    this.calls.push("exportEvents");
    return this.exportTo === null ? null : { events: this.store.length, path: this.exportTo };
  }
  async policyInForce() { return this.policy_; }
  async pause(minutes: number) { return { paused_until: minutes ? new Date(Date.now() + minutes * 60000).toISOString() : null, max_minutes: 30 }; }
  async allowOnce(code: string, reason: string) {
    if (!reason.trim()) throw { code: "reason_required", message: "a reason is required to allow a warned prompt" };
    this.allowed.push([code, reason]);
    return { code, expires_in_s: 600 };
  }
  async explain(text: string): Promise<Explanation> {
    const at = text.indexOf("AKIA");
    const findings = at < 0 ? [] : [{
      rule: "aws-access-key-id", description: "AWS access key id", category: "secret", severity: "critical",
      start: at, end: at + 20, utf16_start: at, utf16_end: at + 20, preview: "AKIA…", action: "block", by: "actions.categories.secret",
    }];
    return {
      policy: "default", destination: "chatgpt.com", group: "consumer-chat", verdict: findings.length ? "block" : "allow",
      by: findings.length ? "actions.categories.secret" : "no findings", findings,
      redacted: at < 0 ? text : text.slice(0, at) + "[REDACTED:aws-access-key-id#1]" + text.slice(at + 20),
    };
  }
  async reportFalsePositive() {}
  async describeRules(ids: string[]) {
    return ids
      .filter((id) => id === "aws-access-key-id")
      .map((rule) => ({ rule, description: "AWS access key ID", category: "secret", severity: "critical", advice: "Take the key out of the prompt (write a placeholder such as <API_KEY> instead)." }));
  }
  onEvent(l: (e: LgEvent) => void) { this.eventListeners.push(l); return () => { this.eventListeners = this.eventListeners.filter((x) => x !== l); }; }
  onRoute(l: (r: Route) => void) { this.routeListeners.push(l); return () => { this.routeListeners = this.routeListeners.filter((x) => x !== l); }; }
  push(e: StoredEvent) { this.store.push(e); for (const l of this.eventListeners) l(e); }
  route(r: Route) { for (const l of this.routeListeners) l(r); }
}
