// The libgatehouse example service, end to end against a running gatehouse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { Server, BIN, cli, signUp } from './lib/server.mjs';

const EXAMPLE = process.env.GATEHOUSE_EXAMPLE_BIN ?? join(dirname(BIN), '../examples/protected_service');
let gh; let ex; let exBase;

before(async () => {
  gh = await new Server({ env: { GATEHOUSE_TOKENS_KEY_RELOAD_S: '1' } }).start();
  ex = spawn(EXAMPLE, ['--issuer', gh.base, '--listen', '127.0.0.1:0', '--min-refetch-s', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  exBase = await new Promise((resolve, reject) => {
    ex.stdout.on('data', (d) => { out += d; const m = out.match(/"address":"([^"]+)"/); if (m) resolve(`http://${m[1]}`); });
    ex.on('exit', (c) => reject(new Error(`example exited ${c}`)));
  });
});
after(async () => {
  ex.kill('SIGTERM');
  await once(ex, 'exit');
  assert.equal(await gh.stop(), 0);
});

const hello = (token) => fetch(`${exBase}/hello`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

test('the example accepts a Gatehouse token and rejects missing and tampered ones', async () => {
  const { res } = await signUp(gh);
  const ok = await hello(res.body.access_token);
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).hello, res.body.user.id);
  assert.equal((await hello()).status, 401);
  const [h, p, s] = res.body.access_token.split('.');
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), sub: 'admin' })).toString('base64url');
  assert.equal((await hello(`${h}.${forged}.${s}`)).status, 401);
});

test('after a key rotation the example refetches the JWKS for the new kid', async () => {
  const kidOf = (t) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url')).kid;
  const oldToken = (await signUp(gh)).res.body.access_token;
  const fetchesBefore = (await (await hello(oldToken)).json()).jwks_fetches;
  assert.equal(cli(['keys', 'rotate', '--data-dir', gh.dataDir]).code, 0);
  // Wait (bounded) until gatehouse signs with the new key, then present such a token.
  let token = oldToken;
  const end = Date.now() + 10000;
  while (kidOf(token) === kidOf(oldToken) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    token = (await signUp(gh)).res.body.access_token;
  }
  assert.notEqual(kidOf(token), kidOf(oldToken), 'gatehouse picked up the rotation');
  // The verifier refetches on the unknown kid, at most once per second here (bounded wait).
  let r; const end2 = Date.now() + 10000;
  do {
    r = await hello(token);
    if (r.status !== 200) await new Promise((res2) => setTimeout(res2, 100));
  } while (r.status !== 200 && Date.now() < end2);
  assert.equal(r.status, 200);
  const fetchesAfter = (await r.json()).jwks_fetches;
  assert.ok(fetchesAfter > fetchesBefore, 'an unknown kid triggered a refetch');
  // A flood of tokens naming unknown kids cannot make it refetch more than the rate limit allows.
  const [h, p, sgn] = token.split('.');
  const evilHeader = (i) => Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: `nope-${i}` })).toString('base64url');
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) assert.equal((await hello(`${evilHeader(i)}.${p}.${sgn}`)).status, 401);
  const elapsed = (Date.now() - t0) / 1000;
  const after = (await (await hello(token)).json()).jwks_fetches;
  assert.ok(after - fetchesAfter <= Math.ceil(elapsed) + 1, `refetches ${after - fetchesAfter} in ${elapsed}s`);
  void h;
  assert.equal((await hello(oldToken)).status, 200, 'the old key is still published');
});
