// VolumeScrubMode as the proto loader hands it over (the name for known values, the number for
// values this server's .proto does not name), mapped to Go's numbers and names.
const MODES: Record<string, number> = { UNKNOWN: 0, INDEX: 1, FULL: 2, LOCAL: 3, CHECKSUM: 4, READS: 5 };
const NAMES = Object.fromEntries(Object.entries(MODES).map(([k, v]) => [v, k])) as Record<number, string>;

export function modeNumber(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw in MODES) return MODES[raw];
  const n = Number(raw);
  return Number.isInteger(n) ? n : 0;
}

/** Go's VolumeScrubMode.String(): the name, or the number for an unnamed value. */
export function modeName(mode: number): string {
  return NAMES[mode] ?? String(mode);
}
