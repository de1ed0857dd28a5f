// The one EcStore of a server, shared by the family's handlers and hooks (created on first use,
// keyed by the core store so two servers in one process never share one).
import type { Cradle } from '../../core/container.js';
import type { Store } from '../../core/storage/store.js';
import { EcStore } from './ec-store.js';

const stores = new WeakMap<Store, EcStore>();

export function ecStoreOf(cradle: Pick<Cradle, 'store' | 'logger'>): EcStore {
  const { store } = cradle;
  let ec = stores.get(store);
  if (!ec) {
    ec = new EcStore(store.locations, store.contributions, store.offsetWidth, cradle.logger.child({ family: 'ec' }));
    stores.set(store, ec);
  }
  return ec;
}
