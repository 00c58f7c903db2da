// The Backend over Tauri commands (src-tauri/src/commands.rs) and events.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Backend, LgEvent, Route } from "./api";
import { parseLink } from "./links";

function subscribe<T>(name: string, listener: (payload: T) => void): () => void {
  let stop: (() => void) | null = null;
  let cancelled = false;
  void listen<T>(name, (e) => listener(e.payload)).then((un) => {
    if (cancelled) un();
    else stop = un;
  });
  return () => {
    cancelled = true;
    stop?.();
  };
}

export const tauriBackend: Backend = {
  appInfo: () => invoke("app_info"),
  health: () => invoke("health"),
  events: (filter) => invoke("events", { filter }),
  event: (id) => invoke("event", { id }),
  stats: (query) => invoke("stats", { query }),
  usage: (sinceDay) => invoke("usage", { sinceDay }),
  exportEvents: (filter, format) => invoke("export_events", { request: { filter, format } }),
  policyInForce: () => invoke("policy_in_force"),
  pause: (minutes) => invoke("pause", { minutes }),
  allowOnce: (code, reason) => invoke("allow_once", { code, reason }),
  explain: (text, destination) => invoke("explain", { text, destination }),
  reportFalsePositive: (eventId) => invoke("report_false_positive", { eventId }),
  describeRules: (ids) => invoke("describe_rules", { ids }),
  onEvent: (listener) => subscribe<LgEvent>("lg://event", listener),
  onRoute: (listener) => {
    const route = (link: string | null) => {
      const r: Route | null = link ? parseLink(link) : null;
      if (r) listener(r);
    };
    // A link the app was started with arrived before this listener: take it once.
    void invoke<string | null>("pending_link").then(route);
    return subscribe<string>("lg://link", route);
  },
};
