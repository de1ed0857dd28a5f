// The whitelist guard: peers allowed to write, delete and call admin RPCs. An empty list allows
// everyone, as in Go; a non-empty one denies every peer it does not list (rules in whitelist.ts).
import { vsError } from '../errors.js';
import { parseWhiteList, type WhiteList } from './whitelist.js';

export class Guard {
  private list: WhiteList;

  /** Throws WhiteListError for an invalid entry. */
  constructor(entries: readonly string[]) {
    this.list = parseWhiteList(entries);
  }

  /**
   * Replaces the list (SIGHUP). Throws WhiteListError for an invalid entry and then keeps the
   * previous list: a reload typo must neither open the server nor lock everyone out.
   */
  update(entries: readonly string[]): void {
    this.list = parseWhiteList(entries);
  }

  isWhiteListed(host: string): boolean {
    return this.list.allows(host);
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
    if (this.list.empty) return;
    if (!peer) throw vsError('VS_ERR_NO_PEER_INFO');
    const host = Guard.hostOfPeer(peer);
    if (!this.isWhiteListed(host)) throw vsError('VS_ERR_NOT_AUTHORIZED', host);
  }
}
