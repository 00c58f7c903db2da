// The window of rows a virtualised list renders.

export interface Window {
  /** First and one-past-last row rendered. */
  start: number;
  end: number;
  /** Space above and below the rendered rows, in px. */
  padTop: number;
  padBottom: number;
}

/** Rows visible at `scrollTop` in a viewport of `height` px, plus `overscan` on each side. */
export function visibleWindow(total: number, rowHeight: number, scrollTop: number, height: number, overscan = 8): Window {
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.max(0, Math.min(total - 1, first) - overscan);
  const end = Math.min(total, first + Math.ceil(height / rowHeight) + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (total - end) * rowHeight };
}

/** Whether to fetch the next page: fewer than `margin` rows left below the viewport. */
export function nearEnd(total: number, rowHeight: number, scrollTop: number, height: number, margin = 50): boolean {
  return (scrollTop + height) / rowHeight >= total - margin;
}
