// The agent's surface as the UI sees it (crates/agent/src/surface.rs, over Tauri commands).
// Every view talks to one `Backend`: the Tauri one in the app, a test one in Vitest.

export type Protection = "protected" | "paused" | "degraded";

export interface TargetState {
  target: string;
  pending: number;
  delivered: number;
  dropped: number;
  last_ok: string | null;
  last_error: string | null;
}

export interface Health {
  protection: Protection;
  reasons: string[];
  version: string;
  /** This device's name, as its events carry it (what IT needs to make an unlock code). */
  device: string;
  started: string;
  uptime_s: number;
  listen: string;
  pac_url: string;
  ca_cert: string;
  ca_uncovered: string[];
  policy: string;
  paused_until: string | null;
  counters: Record<string, number>;
  events_db: string;
  siem: TargetState[];
  control: string;
  /** Each inspected destination group reached through the guard (empty until checked). */
  destinations?: Reach[];
}

/** Whether a destination group answered through the guard at the last check. */
export interface Reach {
  group: string;
  host: string;
  ok: boolean;
  /** What failed and what to do; empty when it answered. */
  detail: string;
  checked: string;
}

/** What the app adds to health: how it reached the guard. */
export interface AppInfo {
  /** The app started the guard itself (no service was running). */
  started_guard: boolean;
  data_dir: string;
  control: string;
}

export interface RuleCount {
  rule: string;
  category: string;
  action: string;
  count: number;
}

export interface LgEvent {
  id: string;
  time: string;
  kind: string;
  device?: string;
  os_user?: string;
  host?: string;
  method?: string;
  path?: string;
  endpoint?: string;
  provider?: string;
  model?: string;
  max_tokens?: number;
  client?: string;
  group?: string;
  verdict: string;
  outcome: string;
  decided_by?: string;
  rules: RuleCount[];
  previews: string[];
  prompt_sha256?: string;
  bytes: number;
  text_bytes: number;
  est_tokens: number;
  latency_us: number;
  binary_parts?: number;
  documents?: string[];
  /** Body fields the endpoint's adapter does not list, where a finding was (or, for a `coverage` event, where the text was). */
  unlisted_fields?: string[];
  /** For a `reply`: the request's event, the provider's token counts, the model that served it when it differs. */
  reply_to?: string;
  input_tokens?: number;
  output_tokens?: number;
  cached_tokens?: number;
  served_model?: string;
  process?: string;
  unscanned_images?: number;
  reason?: string;
  policy?: string;
  override_code?: string;
  justification?: string;
}

export interface StoredEvent extends LgEvent {
  seq: number;
}

export interface Filter {
  since_ms?: number | null;
  until_ms?: number | null;
  verdicts: string[];
  outcomes: string[];
  kinds: string[];
  categories: string[];
  hosts: string[];
  rule?: string | null;
  text?: string | null;
  before_seq?: number | null;
  limit: number;
}

export interface Page {
  events: StoredEvent[];
  next: number | null;
}

export interface Bucket {
  start: string;
  total: number;
  by_outcome: Record<string, number>;
  by_category: Record<string, number>;
  by_destination: Record<string, number>;
}

export interface Stats {
  since: string;
  until: string;
  bucket_seconds: number;
  total: number;
  by_outcome: Record<string, number>;
  buckets: Bucket[];
  /** (rule, category, findings, events) */
  top_rules: [string, string, number, number][];
  /** (host, requests, stopped) */
  top_destinations: [string, number, number][];
}

export interface StatsQuery {
  since_ms: number;
  until_ms: number;
  bucket_seconds: number;
}

export interface UsageRow {
  day: string;
  host: string;
  client: string;
  requests: number;
  bytes: number;
  est_tokens: number;
  blocked: number;
  documents?: number;
  unscanned_images?: number;
  /** What the providers reported in their replies (0 where replies were not read). */
  input_tokens?: number;
  output_tokens?: number;
}

export interface ExplainedFinding {
  rule: string;
  description: string;
  category: string;
  severity: string;
  start: number;
  end: number;
  utf16_start: number;
  utf16_end: number;
  preview: string;
  action: string;
  by: string;
}

export interface Explanation {
  policy: string;
  destination: string | null;
  group: string | null;
  verdict: string;
  by: string;
  findings: ExplainedFinding[];
  redacted: string;
}

export interface Rejected {
  time: string;
  code: string;
  message: string;
}

export interface DestinationGroup {
  name: string;
  hosts: string[];
  mode?: string;
  fail_mode?: string;
  max_body_bytes?: number;
  restore_redacted?: boolean;
  tenant?: Record<string, string[]>;
}

export interface PolicyDoc {
  name?: string;
  version: number;
  /** Absent: balanced. */
  sensitivity?: "strict" | "balanced" | "permissive";
  destinations: DestinationGroup[];
  actions: {
    categories?: Record<string, string>;
    rules?: Record<string, string>;
    groups?: Record<string, { categories?: Record<string, string>; rules?: Record<string, string> }>;
  };
  api?: Record<string, Record<string, unknown>>;
  exceptions: { reason: string; expires: string; rules?: string[]; users?: string[]; destinations?: string[] }[];
  controls?: { pause_minutes?: number };
  messages?: { policy_url?: string; block?: string; warn?: string };
}

export interface PolicyInForce {
  label: string;
  origin: "managed" | "pulled" | "local" | "builtin";
  managed_path: string | null;
  local_path: string | null;
  signature: { required: boolean; key: string | null; verified: boolean };
  read_only: boolean;
  loaded_at: string;
  reloads: number;
  rejected: Rejected[];
  policy: PolicyDoc;
  local: PolicyDoc | null;
}

export interface RuleDescription {
  rule: string;
  description: string;
  category: string;
  severity: string;
  /** How to send the prompt without this finding. */
  advice: string;
}

export interface PauseState {
  paused_until: string | null;
  max_minutes: number;
}

export interface Allowed {
  code: string;
  expires_in_s: number;
}

export interface Exported {
  events: number;
  path: string;
}

/** Every error the UI receives: a stable code and a message that says what to do. */
export interface ApiError {
  code: string;
  message: string;
}

/** Where a `leakguard://` link (or the tray) asks the app to go. */
export type Route =
  | { view: "overview" }
  | { view: "events"; id?: string }
  | { view: "policy" }
  | { view: "health" }
  | { view: "try" }
  | { view: "allow"; code: string; id?: string };

export interface Backend {
  appInfo(): Promise<AppInfo>;
  health(): Promise<Health>;
  events(filter: Filter): Promise<Page>;
  event(id: string): Promise<StoredEvent | null>;
  stats(query: StatsQuery): Promise<Stats>;
  usage(sinceDay: string): Promise<UsageRow[]>;
  /** Asks where to save (the system's save dialog) and exports there; null: cancelled. */
  exportEvents(filter: Filter, format: "jsonl" | "csv"): Promise<Exported | null>;
  policyInForce(): Promise<PolicyInForce>;
  pause(minutes: number): Promise<PauseState>;
  allowOnce(code: string, reason: string): Promise<Allowed>;
  explain(text: string, destination: string | null): Promise<Explanation>;
  reportFalsePositive(eventId: string): Promise<void>;
  /** Descriptions and advice for rule ids (unknown ids are left out). */
  describeRules(ids: string[]): Promise<RuleDescription[]>;
  /** Live events, pushed by the agent. Returns the unsubscribe function. */
  onEvent(listener: (e: LgEvent) => void): () => void;
  /** Routes from `leakguard://` links, the tray and a second launch. */
  onRoute(listener: (r: Route) => void): () => void;
}

/** Any thrown value as an `ApiError`. */
export function asApiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown };
    return { code: String(o.code), message: String(o.message) };
  }
  if (e instanceof Error) return { code: "ui", message: e.message };
  return { code: "ui", message: String(e) };
}
