import { statfsSync } from 'node:fs';

/** Go's DiskStatus (volume_server_pb) as filled by statfs: free counts blocks available to users. */
export interface DiskStatus {
  dir: string;
  all: number;
  used: number;
  free: number;
  percent_free: number;
  percent_used: number;
  disk_type?: string;
  error?: string;
}

export function diskStatus(dir: string): DiskStatus {
  const out: DiskStatus = { dir, all: 0, used: 0, free: 0, percent_free: 0, percent_used: 0 };
  try {
    const fs = statfsSync(dir);
    out.all = fs.blocks * fs.bsize;
    out.free = fs.bavail * fs.bsize;
    out.used = out.all - out.free;
    if (out.all > 0) {
      out.percent_free = (out.free / out.all) * 100;
      out.percent_used = (out.used / out.all) * 100;
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}
