/**
 * @module Stop strings over streamed text: finds the first stop string and holds back any tail that may
 * still become one, so a client never sees part of a stop string.
 */

/** How much of `text` (from `from`) may be emitted now, and whether a stop string was hit. */
export function scanStops(text: string, from: number, stops: readonly string[]): { end: number; stopped: boolean } {
  let hit = -1;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (i >= 0 && (hit < 0 || i < hit)) hit = i;
  }
  if (hit >= 0) return { end: Math.max(from, hit), stopped: true };
  let hold = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return { end: Math.max(from, text.length - hold), stopped: false };
}
