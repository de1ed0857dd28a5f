// What a phase costs a server: wall time, CPU seconds and the peak resident set during the phase.
// The peak is VmHWM after resetting it at the start (writing 5 to /proc/<pid>/clear_refs), so an
// earlier fill does not count; where the reset is refused it falls back to the highest VmRSS
// polled every 50 ms. CPU is utime + stime of /proc/<pid>/stat, the server's and, apart, that of
// a peer the phase drives (the S3 server of a tier phase), whose work depends on how it is asked.
import { readFileSync, writeFileSync } from 'node:fs';

export interface PhaseCost {
  seconds: number;
  peakRssMiB: number;
  /** RSS when the phase started, for context. */
  startRssMiB: number;
  /** CPU seconds (user + system) the server spent in the phase. */
  cpuSeconds: number;
  /** CPU seconds the peer process spent meanwhile, when one was named. */
  peerCpuSeconds?: number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS;
  } catch {
    return NaN;
  }
}

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN; // the process is gone
  }
}

export async function measure<T>(pid: number, fn: () => Promise<T>, peerPid?: number): Promise<{ cost: PhaseCost; value: T }> {
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
  const cpu0 = cpuSecondsOf(pid);
  const peer0 = peerPid === undefined ? NaN : cpuSecondsOf(peerPid);
  const t = performance.now();
  try {
    const value = await fn();
    const seconds = (performance.now() - t) / 1000;
    const cpuSeconds = cpuSecondsOf(pid) - cpu0;
    const peerCpuSeconds = peerPid === undefined ? undefined : cpuSecondsOf(peerPid) - peer0;
    const hwm = statusMiB(pid, 'VmHWM');
    return { cost: { seconds, cpuSeconds, peerCpuSeconds, peakRssMiB: reset && Number.isFinite(hwm) ? Math.max(hwm, polled) : polled, startRssMiB }, value };
  } finally {
    clearInterval(timer);
  }
}
