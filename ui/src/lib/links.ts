// `leakguard://` links: what a notification's buttons and the tray open.
import type { Route } from "./api";

/**
 * `leakguard://events/ID` -> that event; `leakguard://allow/CODE?event=ID` -> the warn flow;
 * `leakguard://overview|policy|health|try` -> that view. Anything else: `null`.
 */
export function parseLink(link: string): Route | null {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return null;
  }
  if (url.protocol !== "leakguard:") return null;
  // `leakguard://events/ID`: the host is the view, the path its argument.
  const parts = [url.host, ...url.pathname.split("/")].filter((p) => p.length > 0).map(decodeURIComponent);
  const [view, arg] = parts;
  const safe = (s: string | undefined) => (s && /^[A-Za-z0-9_-]{1,128}$/.test(s) ? s : undefined);
  switch (view) {
    case "events":
      return { view: "events", id: safe(arg) };
    case "allow": {
      const code = safe(arg);
      if (!code) return null;
      const id = safe(url.searchParams.get("event") ?? undefined);
      return id ? { view: "allow", code, id } : { view: "allow", code };
    }
    case "overview":
    case "policy":
    case "health":
    case "try":
      return { view };
    default:
      return null;
  }
}
