/** 83.2 → "1:23", 3723 → "1:02:03". */
export function clock(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** The segment playing at `time`: the last one that started at or before it, while it lasts. */
export function segmentAt<T extends { start: number | null; end: number | null }>(segments: readonly T[], time: number): number {
  let found = -1;
  for (let i = 0; i < segments.length; i++) {
    const { start, end } = segments[i]!;
    if (start === null || start > time) continue;
    if (end === null || time < end) found = i;
  }
  return found;
}
