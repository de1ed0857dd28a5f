// What a phase costs a server: wall time and the peak resident set during the phase. The peak is
// VmHWM after resetting it at the start (writing 5 to /proc/<pid>/clear_refs), so an earlier
// fill does not count; where the reset is refused it falls back to the highest VmRSS polled
// every 50 ms.
import { readFileSync, writeFileSync } from 'node:fs';

export interface PhaseCost {
  seconds: number;
  peakRssMiB: number;
  /** RSS when the phase started, for context. */
  startRssMiB: number;
}

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN; // the process is gone
  }
}

export async function measure<T>(pid: number, fn: () => Promise<T>): Promise<{ cost: PhaseCost; value: T }> {
  let reset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    reset = true;
  } catch {
    // not allowed here: rely on polling
  }
  const startRssMiB = statusMiB(pid, 'VmRSS');
  let polled = startRssMiB;
  const timer = setInterval(() => {
    const r = statusMiB(pid, 'VmRSS');
    if (r > polled) polled = r;
  }, 50);
  const t = performance.now();
  try {
    const value = await fn();
    const seconds = (performance.now() - t) / 1000;
    const hwm = statusMiB(pid, 'VmHWM');
    return { cost: { seconds, peakRssMiB: reset && Number.isFinite(hwm) ? Math.max(hwm, polled) : polled, startRssMiB }, value };
  } finally {
    clearInterval(timer);
  }
}
