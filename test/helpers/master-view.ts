// What the real Go master believes about the cluster, read from its HTTP API: /dir/lookup (the
// locations of a volume), /vol/status (every volume each data node reported, with size, file count
// and read-only flag) and /dir/status (per data node counts). Tests poll these with waitFor.
import type { Master } from './processes.js';

/** One volume as a data node reported it (Go's storage.VolumeInfo in /vol/status). */
export interface MasterVolume {
  Id: number;
  Size: number;
  FileCount: number;
  DeleteCount: number;
  ReadOnly: boolean;
  Collection: string;
  DiskType: string;
}

/** Go's topology.DataNodeInfo in /dir/status. */
export interface MasterDataNode {
  Url: string;
  Volumes: number;
  EcShards: number;
  Max: number;
  VolumeIds: string;
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  const text = await r.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${url}: ${r.status} ${text.slice(0, 200)}`);
  }
}

/** The urls the master gives for a volume; [] when it knows none (it answers an error then). */
export async function lookupUrls(master: Pick<Master, 'url'>, vid: number): Promise<string[]> {
  const body = await getJson<{ locations?: { url: string }[] }>(`${master.url}/dir/lookup?volumeId=${vid}`);
  return (body.locations ?? []).map((l) => l.url).sort();
}

/** The volumes the master holds for the data node at `nodeUrl` (127.0.0.1:port), by id. */
export async function masterVolumes(master: Pick<Master, 'url'>, nodeUrl: string): Promise<Map<number, MasterVolume>> {
  const body = await getJson<{ Volumes: { DataCenters?: Record<string, Record<string, Record<string, MasterVolume[] | null>>> } }>(
    `${master.url}/vol/status`,
  );
  const out = new Map<number, MasterVolume>();
  for (const racks of Object.values(body.Volumes.DataCenters ?? {})) {
    for (const nodes of Object.values(racks)) {
      for (const v of nodes[nodeUrl] ?? []) out.set(v.Id, v);
    }
  }
  return out;
}

/** The master's summary of the data node at `nodeUrl`, undefined while it is not registered. */
export async function masterDataNode(master: Pick<Master, 'url'>, nodeUrl: string): Promise<MasterDataNode | undefined> {
  const body = await getJson<{
    Topology: { DataCenters: { Racks: { DataNodes: MasterDataNode[] | null }[] | null }[] | null };
  }>(`${master.url}/dir/status`);
  for (const dc of body.Topology.DataCenters ?? []) {
    for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) if (n.Url === nodeUrl) return n;
  }
  return undefined;
}

/** A file id `<vid>,<key hex><cookie 8 hex>`, as Go's needle.FileId formats it. */
export function fileId(vid: number, key: number, cookie: number): string {
  return `${vid},${key.toString(16)}${cookie.toString(16).padStart(8, '0')}`;
}

/**
 * `/dir/assign` (with `query`, e.g. `?replication=001`): a fid and the server to write it to.
 * Retried for up to 20 s while the master answers an error (it does while it is still growing
 * volumes: "volume growth in progress", no writable volumes yet).
 */
export async function assignFid(master: Master, query = ''): Promise<{ fid: string; url: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const body = await getJson<{ fid?: string; url?: string; error?: string }>(`${master.url}/dir/assign${query}`);
    if (body.fid && body.url) return { fid: body.fid, url: body.url };
    if (Date.now() > deadline) throw new Error(`assign failed: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
