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

// One formatter each, made once: `toLocaleString` makes a new one on every call, which cost
// most of the time of drawing a page of the Events list (a date on every row).
const DATE_TIME = new Intl.DateTimeFormat(LOCALE, {
  year: "numeric",
  month: "numeric",
  day: "numeric",
  hour: "numeric",
  minute: "numeric",
  second: "numeric",
});
const TIME_OF_DAY = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", minute: "numeric", second: "numeric" });

/** Local date and time (as `Date.toLocaleString`). */
export function dateTime(t: number | string): string {
  return DATE_TIME.format(new Date(t));
}

/** Local time of day (as `Date.toLocaleTimeString`). */
export function timeOfDay(t: number | string): string {
  return TIME_OF_DAY.format(new Date(t));
}
