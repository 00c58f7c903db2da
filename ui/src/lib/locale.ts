// The locale for dates and numbers. WebKit started under a "C" or "POSIX" locale (LANG unset,
// as under many service managers) reports navigator.language "C", which Intl refuses with a
// RangeError; uPlot formats with navigator.language when it loads. Imported first (main.ts),
// so such a locale is replaced before anything formats.

function valid(tag: string | undefined): boolean {
  if (!tag) return false;
  try {
    new Intl.NumberFormat(tag);
    new Intl.DateTimeFormat(tag);
    return true;
  } catch {
    return false;
  }
}

/** A locale Intl accepts: the user's, else en-US. */
export const LOCALE: string = typeof navigator !== "undefined" && valid(navigator.language) ? navigator.language : "en-US";

if (typeof navigator !== "undefined" && navigator.language !== LOCALE) {
  Object.defineProperty(navigator, "language", { value: LOCALE, configurable: true });
  Object.defineProperty(navigator, "languages", { value: [LOCALE], configurable: true });
}

/** Local date and time. */
export function dateTime(t: number | string): string {
  return new Date(t).toLocaleString(LOCALE);
}

/** Local time of day. */
export function timeOfDay(t: number | string): string {
  return new Date(t).toLocaleTimeString(LOCALE);
}
