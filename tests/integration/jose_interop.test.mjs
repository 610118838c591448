// Independent verification: npm `jose` checks our access tokens through our
// JWKS for every algorithm; key rotation keeps old tokens valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { Server, cli, signUp } from './lib/server.mjs';

for (const alg of ['EdDSA', 'ES256', 'RS256']) {
  test(`jose verifies ${alg} access tokens through the JWKS and rejects a tampered one`, async () => {
    const s = await new Server({ env: { GATEHOUSE_TOKENS_SIGNING_ALG: alg } }).start();
    try {
      const { res } = await signUp(s);
      const token = res.body.access_token;
      assert.equal(decodeProtectedHeader(token).alg, alg);
      const jwks = createRemoteJWKSet(new URL(`${s.base}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: s.base, audience: 'gatehouse', typ: 'at+jwt', algorithms: [alg],
      });
      assert.equal(payload.sub, res.body.user.id);
      assert.equal(protectedHeader.typ, 'at+jwt');
      const [h, p, sig] = token.split('.');
      const body = JSON.parse(Buffer.from(p, 'base64url'));
      body.sub = 'someone-else';
      await assert.rejects(jwtVerify(`${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${sig}`, jwks, { algorithms: [alg] }));
      const disc = await s.json('GET', '/.well-known/openid-configuration');
      assert.equal(disc.body.issuer, s.base);
      assert.equal(disc.body.jwks_uri, `${s.base}/.well-known/jwks.json`);
      const keys = await fetch(`${s.base}/.well-known/jwks.json`);
      assert.match(keys.headers.get('cache-control'), /max-age=\d+/);
      const doc = await keys.json();
      assert.ok(doc.keys.every((k) => !('d' in k) && !('p' in k) && k.use === 'sig' && k.alg === alg));
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
}

test('HS256 tokens work for /v1/me but the secret is never published', async () => {
  const s = await new Server({ env: { GATEHOUSE_TOKENS_SIGNING_ALG: 'HS256' } }).start();
  try {
    const { res } = await signUp(s);
    assert.equal(decodeProtectedHeader(res.body.access_token).alg, 'HS256');
    assert.equal((await s.json('GET', '/v1/me', undefined, { authorization: `Bearer ${res.body.access_token}` })).status, 200);
    const doc = await (await fetch(`${s.base}/.well-known/jwks.json`)).json();
    assert.deepEqual(doc.keys, []);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('after keys rotate, old tokens still verify and new tokens carry the new kid', async () => {
  const s = await new Server({ env: { GATEHOUSE_TOKENS_KEY_RELOAD_S: '1' } }).start();
  try {
    const { email, password, res } = await signUp(s);
    const oldKid = decodeProtectedHeader(res.body.access_token).kid;
    const r = cli(['keys', 'rotate', '--data-dir', s.dataDir]);
    assert.equal(r.code, 0, r.err);
    const newKid = JSON.parse(r.out).kid;
    assert.notEqual(newKid, oldKid);
    // The running server picks the rotation up on its next key reload (bounded wait).
    const end = Date.now() + 10000;
    let kids = [];
    while (Date.now() < end) {
      kids = (await (await fetch(`${s.base}/.well-known/jwks.json`)).json()).keys.map((k) => k.kid);
      if (kids.includes(newKid)) break;
      await new Promise((res2) => setTimeout(res2, 50));
    }
    assert.deepEqual(kids.sort(), [oldKid, newKid].sort(), 'both published during the overlap');
    const login = await s.json('POST', '/v1/login', { email, password }, { 'token-transport': 'body' });
    assert.equal(decodeProtectedHeader(login.body.access_token).kid, newKid);
    const jwks = createRemoteJWKSet(new URL(`${s.base}/.well-known/jwks.json`));
    for (const t of [res.body.access_token, login.body.access_token]) {
      await jwtVerify(t, jwks, { issuer: s.base, audience: 'gatehouse', typ: 'at+jwt' });
      assert.equal((await s.json('GET', '/v1/me', undefined, { authorization: `Bearer ${t}` })).status, 200);
    }
    const list = cli(['keys', 'list', '--data-dir', s.dataDir]).out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(list.map((k) => k.status).sort(), ['active', 'published']);
    // Retiring the old key ends its tokens; the active key cannot be retired.
    assert.notEqual(cli(['keys', 'retire', newKid, '--data-dir', s.dataDir]).code, 0);
    assert.equal(cli(['keys', 'retire', oldKid, '--data-dir', s.dataDir]).code, 0);
    const end2 = Date.now() + 10000;
    let status = 200;
    while (Date.now() < end2 && status === 200) {
      status = (await s.json('GET', '/v1/me', undefined, { authorization: `Bearer ${res.body.access_token}` })).status;
      if (status === 200) await new Promise((res2) => setTimeout(res2, 50));
    }
    assert.equal(status, 401, 'a token signed by a retired key stops working (cache included)');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});
