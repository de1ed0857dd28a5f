// Master and peer address forms (host:port, .grpcPort suffix).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grpcAddressOfLocation, parseServerAddress, toGrpcAddress, toHttpAddress } from '../../../core/master/server-address.js';

test('server addresses: http/grpc forms and the .grpcPort suffix', () => {
  assert.deepEqual(parseServerAddress('127.0.0.1:9333'), { host: '127.0.0.1', port: 9333, grpcPort: 19333 });
  assert.deepEqual(parseServerAddress('m:9333.29999'), { host: 'm', port: 9333, grpcPort: 29999 });
  assert.equal(parseServerAddress('nope'), undefined);
  assert.equal(parseServerAddress('h:99999'), undefined);
  assert.equal(toHttpAddress('m:9333.29999'), 'm:9333');
  assert.equal(toGrpcAddress('[::1]:9333'), '[::1]:19333');
  assert.equal(grpcAddressOfLocation('1.2.3.4:8080', 0), '1.2.3.4:18080');
  assert.equal(grpcAddressOfLocation('1.2.3.4:8080', 9000), '1.2.3.4:9000');
});
