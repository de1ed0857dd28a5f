// The whitelist guard: IPs and CIDRs allowed to write, delete and call admin RPCs. An empty list
// allows everyone, as in Go.
import { BlockList, isIP } from 'node:net';
import { vsError } from '../errors.js';

export class Guard {
  private list = new BlockList();
  private empty = true;

  constructor(entries: string[]) {
    this.update(entries);
  }

  update(entries: string[]): void {
    const list = new BlockList();
    let count = 0;
    for (const raw of entries) {
      const e = raw.trim();
      if (!e) continue;
      const slash = e.indexOf('/');
      if (slash > 0) {
        const net = e.slice(0, slash);
        const prefix = Number(e.slice(slash + 1));
        const fam = isIP(net);
        if (fam && Number.isInteger(prefix)) {
          list.addSubnet(net, prefix, fam === 6 ? 'ipv6' : 'ipv4');
          count++;
        }
      } else if (isIP(e)) {
        list.addAddress(e, isIP(e) === 6 ? 'ipv6' : 'ipv4');
        count++;
      }
    }
    this.list = list;
    this.empty = count === 0;
  }

  isWhiteListed(host: string): boolean {
    if (this.empty) return true;
    let h = host;
    if (h.startsWith('::ffff:') && isIP(h.slice(7)) === 4) h = h.slice(7);
    const fam = isIP(h);
    if (!fam) return false;
    return this.list.check(h, fam === 6 ? 'ipv6' : 'ipv4');
  }

  /** grpc-js peer strings look like `127.0.0.1:5000`, `[::1]:5000` or `ipv4:127.0.0.1:5000`. */
  static hostOfPeer(peer: string): string {
    let p = peer.replace(/^ipv[46]:/, '');
    if (p.startsWith('[')) return p.slice(1, p.indexOf(']'));
    const colon = p.lastIndexOf(':');
    if (colon > 0 && p.indexOf(':') === colon) p = p.slice(0, colon);
    return p;
  }

  /** Throws PERMISSION_DENIED `not authorized: <ip>` for a peer outside the whitelist. */
  checkPeer(peer: string | undefined): void {
    if (this.empty) return;
    if (!peer) throw vsError('VS_ERR_NO_PEER_INFO');
    const host = Guard.hostOfPeer(peer);
    if (!this.isWhiteListed(host)) throw vsError('VS_ERR_NOT_AUTHORIZED', host);
  }
}
