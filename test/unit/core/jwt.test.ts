// File-id JWTs (core/security/jwt.ts, Go's weed/security/jwt.go with golang-jwt's checks) and the
// fid binding of the store handlers (plugins/read-write/http/auth.ts, Go's
// maybeCheckJwtAuthorization). The upstream suite covers them through a live master; these pin
// each rule on its own so a regression names the rule that broke.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { signFileIdJwt, tokenFromRequest, verifyJwt } from '../../../core/security/jwt.js';
import { claimFid } from '../../../plugins/read-write/http/auth.js';

const KEY = 'write-key';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const NOW_S = NOW / 1000;

/** A token with any header and claims, HMAC-signed with `alg`'s hash (or a given signature). */
function token(header: object, claims: unknown, key = KEY, hash = 'sha256', sig?: string): string {
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const s = sig ?? createHmac(hash, key).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}

describe('verifyJwt', () => {
  test('a token it signs verifies with the same key and carries the fid and expiry', () => {
    const t = signFileIdJwt(KEY, '3,01637037d6', 10, NOW);
    assert.deepEqual(verifyJwt(KEY, t, NOW), { fid: '3,01637037d6', exp: NOW_S + 10 });
    assert.equal(verifyJwt('another-key', t, NOW), undefined);
  });

  test('no expiry asked: no exp claim, valid at any time', () => {
    const t = signFileIdJwt(KEY, '3,01', 0, NOW);
    assert.deepEqual(verifyJwt(KEY, t, NOW + 10 * 365 * 86400_000), { fid: '3,01' });
  });

  test('exp: valid strictly before it, refused at and after it', () => {
    const t = token({ alg: 'HS256', typ: 'JWT' }, { fid: '1,01', exp: NOW_S + 5 });
    assert.ok(verifyJwt(KEY, t, NOW + 4_999));
    assert.equal(verifyJwt(KEY, t, NOW + 5_000), undefined);
    assert.equal(verifyJwt(KEY, t, NOW + 60_000), undefined);
  });

  test('nbf: refused before it, valid from it on', () => {
    const t = token({ alg: 'HS256' }, { fid: '1,01', nbf: NOW_S + 5 });
    assert.equal(verifyJwt(KEY, t, NOW), undefined);
    assert.ok(verifyJwt(KEY, t, NOW + 5_000));
  });

  test('time claims that are not numbers are refused, not ignored', () => {
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, { fid: '1,01', exp: String(NOW_S - 100) }), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, { fid: '1,01', nbf: 'soon' }), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, { fid: '1,01', exp: null }), NOW), undefined);
  });

  test('HS384 and HS512 verify with their own hash', () => {
    assert.ok(verifyJwt(KEY, token({ alg: 'HS384' }, { fid: '1,01' }, KEY, 'sha384'), NOW));
    assert.ok(verifyJwt(KEY, token({ alg: 'HS512' }, { fid: '1,01' }, KEY, 'sha512'), NOW));
    // The header names the hash: a SHA-512 signature under an HS256 header does not verify.
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, { fid: '1,01' }, KEY, 'sha512'), NOW), undefined);
  });

  test('algorithms other than HMAC are refused: none, RS256, missing, lower case', () => {
    assert.equal(verifyJwt(KEY, token({ alg: 'none' }, { fid: '1,01' }, KEY, 'sha256', ''), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'none' }, { fid: '1,01' }), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'RS256' }, { fid: '1,01' }), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ typ: 'JWT' }, { fid: '1,01' }), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'hs256' }, { fid: '1,01' }), NOW), undefined);
  });

  test('a changed payload or signature does not verify', () => {
    const t = signFileIdJwt(KEY, '3,01637037d6', 0, NOW);
    const [h, , s] = t.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ fid: '4,01637037d6' })).toString('base64url')}.${s}`;
    assert.equal(verifyJwt(KEY, forged, NOW), undefined);
    const flipped = t.slice(0, -2) + (t.endsWith('AA') ? 'BB' : 'AA');
    assert.equal(verifyJwt(KEY, flipped, NOW), undefined);
    assert.equal(verifyJwt(KEY, `${h}.${t.split('.')[1]}.`, NOW), undefined);
  });

  test('malformed tokens answer undefined, never throw', () => {
    for (const t of ['', 'a', 'a.b', 'a.b.c.d', '!!!.???.***', `${Buffer.from('{').toString('base64url')}.e30.x`]) {
      assert.equal(verifyJwt(KEY, t, NOW), undefined, t);
    }
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, [1, 2]), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, 'fid'), NOW), undefined);
    assert.equal(verifyJwt(KEY, token({ alg: 'HS256' }, null), NOW), undefined);
  });
});

describe('token sources (Go GetJwt): query, then bearer header, then AT cookie', () => {
  const headers = { authorization: 'Bearer from-header', cookie: 'x=1; AT=from-cookie; y=2' };
  test('the query parameter wins over header and cookie', () => {
    assert.equal(tokenFromRequest({ jwt: 'from-query' }, headers), 'from-query');
    assert.equal(tokenFromRequest({ jwt: ['first', 'second'] }, headers), 'first');
  });
  test('then the bearer header (any case of "Bearer"), then the cookie', () => {
    assert.equal(tokenFromRequest({}, headers), 'from-header');
    assert.equal(tokenFromRequest({ jwt: '' }, { authorization: 'bearer lower' }), 'lower');
    assert.equal(tokenFromRequest({}, { cookie: headers.cookie }), 'from-cookie');
  });
  test('a header that is not a bearer token and a cookie without AT give nothing', () => {
    assert.equal(tokenFromRequest({}, { authorization: 'Basic dXNlcjpwYXNz' }), '');
    assert.equal(tokenFromRequest({}, { authorization: 'Bearer' }), '');
    assert.equal(tokenFromRequest({}, { cookie: 'ATX=1; xAT=2' }), '');
  });
});

describe('fid binding', () => {
  test('the claim is the literal vid text and the fid without its _delta suffix', () => {
    assert.equal(claimFid('3', '01637037d6'), '3,01637037d6');
    assert.equal(claimFid('3', '01637037d6_1'), '3,01637037d6');
    assert.equal(claimFid('03', '01637037d6'), '03,01637037d6');
  });
  test('a token for one fid does not name another', () => {
    const claims = verifyJwt(KEY, signFileIdJwt(KEY, '3,01637037d6', 10, NOW), NOW);
    assert.ok(claims);
    assert.equal(claims.fid, claimFid('3', '01637037d6_2'));
    assert.notEqual(claims.fid, claimFid('3', '01637037d7'));
    assert.notEqual(claims.fid, claimFid('4', '01637037d6'));
  });
});
