// The real binary on PostgreSQL (a throw-away server started here): migrate,
// accounts, rotation under 50 concurrent refreshes, reuse, restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Server, cli, signUp } from './lib/server.mjs';

const PG = resolve(import.meta.dirname, '../../scripts/pg-test-server.sh');
let pgDir; let url;

before(() => {
  pgDir = mkdtempSync(join(tmpdir(), 'gh-it-pg-'));
  const r = spawnSync(PG, ['start', pgDir], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  url = readFileSync(join(pgDir, 'url'), 'utf8').trim();
  const m = cli(['migrate', '--store', url, '--mode', 'production'], { env: { GATEHOUSE_KEK: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8', GATEHOUSE_PUBLIC_URL: 'https://auth.example.test' } });
  assert.equal(m.code, 0, m.err);
});
after(() => {
  spawnSync(PG, ['stop', pgDir], { timeout: 60000 });
  rmSync(pgDir, { recursive: true, force: true });
});

const bodyTransport = { 'token-transport': 'body' };

test('accounts and tokens on PostgreSQL, including 50 concurrent refreshes and reuse', async () => {
  const s = await new Server({ args: ['--store', url] }).start();
  try {
    assert.equal((await s.json('GET', '/readyz')).body.store, 'postgres');
    const { email, password, res } = await signUp(s);
    assert.equal((await s.json('POST', '/v1/login', { email, password })).status, 200);
    const r0 = res.body.refresh_token;
    const results = await Promise.all(Array.from({ length: 50 }, () =>
      s.json('POST', '/v1/token/refresh', { refresh_token: r0 }, bodyTransport)));
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    const children = new Set(results.map((r) => r.body.refresh_token));
    assert.equal(children.size, 1, 'one child, no second branch');
    const [child] = children;
    const next = await s.json('POST', '/v1/token/refresh', { refresh_token: child }, bodyTransport);
    assert.equal(next.status, 200);
    const reuse = await s.json('POST', '/v1/token/refresh', { refresh_token: r0 }, bodyTransport);
    assert.equal(reuse.body.code, 'refresh_token_reused');
    assert.equal((await s.json('POST', '/v1/token/refresh', { refresh_token: next.body.refresh_token }, bodyTransport)).status, 401);
    assert.equal(await s.stop({ keepData: true }), 0);
    // Restart on the same database: the account and the revocation are still there.
    const s2 = await new Server({ args: ['--store', url], dataDir: s.dataDir }).start();
    try {
      assert.equal((await s2.json('POST', '/v1/login', { email, password })).status, 200);
      assert.equal((await s2.json('GET', '/v1/me', undefined, { authorization: `Bearer ${next.body.access_token}` })).status, 401);
    } finally {
      s2.ownDir = true;
      assert.equal(await s2.stop(), 0);
    }
  } finally {
    await s.stop();
  }
});

test('production mode refuses a database that was not migrated', () => {
  const r = cli(['serve', '--mode', 'production', '--listen', '127.0.0.1:0', '--store', url.replace(/\/postgres$/, '/template1')],
    { env: { GATEHOUSE_KEK: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8', GATEHOUSE_PUBLIC_URL: 'https://auth.example.test' } });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /gatehouse migrate/);
});
