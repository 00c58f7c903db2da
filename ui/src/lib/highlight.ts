// The Try-it text with findings marked in place (UTF-16 offsets, as the agent gives them).
import type { ExplainedFinding } from "./api";

export interface Piece {
  text: string;
  finding: ExplainedFinding | null;
}

/** Splits `text` at the findings; overlapping findings merge under the first (most severe first). */
export function pieces(text: string, findings: ExplainedFinding[]): Piece[] {
  const order = { critical: 0, high: 1, medium: 2, low: 3, info: 4 } as Record<string, number>;
  const sorted = [...findings]
    .filter((f) => f.utf16_start < f.utf16_end && f.utf16_end <= text.length)
    .sort((a, b) => a.utf16_start - b.utf16_start || (order[a.severity] ?? 9) - (order[b.severity] ?? 9));
  const out: Piece[] = [];
  let at = 0;
  for (const f of sorted) {
    if (f.utf16_start < at) continue; // overlaps one already marked
    if (f.utf16_start > at) out.push({ text: text.slice(at, f.utf16_start), finding: null });
    out.push({ text: text.slice(f.utf16_start, f.utf16_end), finding: f });
    at = f.utf16_end;
  }
  if (at < text.length) out.push({ text: text.slice(at), finding: null });
  return out;
}
