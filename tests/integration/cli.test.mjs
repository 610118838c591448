// The gatehouse command line: migrate, user management, hash-password,
// print-config, and the production-mode refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, FAST_HASH_ENV, Server, uniqueEmail, goodPassword } from './lib/server.mjs';

function gh(args, { input = '', env = {} } = {}) {
  const r = spawnSync(BIN, args, { input, env: { PATH: process.env.PATH, ...FAST_HASH_ENV, ...env }, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('version and help', () => {
  assert.match(gh(['version']).out, /^gatehouse \d+\.\d+\.\d+/);
  const help = gh(['--help']);
  assert.equal(help.code, 0);
  for (const cmd of ['serve', 'migrate', 'user', 'hash-password', 'version']) assert.match(help.out, new RegExp(cmd));
  assert.equal(gh(['user', '--help']).code, 0);
});

test('migrate, user create/list/disable/enable/delete against the data dir a server uses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-cli-'));
  try {
    const m = gh(['migrate', '--data-dir', dir]);
    assert.equal(m.code, 0, m.err);
    assert.match(m.out, /schema version [1-9]/);
    assert.equal(gh(['migrate', '--data-dir', dir]).code, 0, 'idempotent');

    const email = uniqueEmail('cli');
    const password = goodPassword();
    const c = gh(['user', 'create', '--data-dir', dir, '--email', email, '--name', 'Cli User'], { input: password + '\n' });
    assert.equal(c.code, 0, c.err);
    const created = JSON.parse(c.out);
    assert.equal(created.email, email);
    assert.ok(!c.out.includes(password) && !c.err.includes(password), 'password never printed');

    const weak = gh(['user', 'create', '--data-dir', dir, '--email', uniqueEmail('weak')], { input: 'short\n' });
    assert.notEqual(weak.code, 0);
    assert.match(weak.err, /at least 15/);

    const list = gh(['user', 'list', '--data-dir', dir]);
    assert.equal(list.code, 0);
    const users = list.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(users.map((u) => u.id), [created.id]);
    assert.equal(gh(['user', 'list', '--data-dir', dir, '--email-contains', 'nomatch']).out.trim(), '');

    const s = await new Server({ dataDir: dir }).start();
    try {
      const held = await s.json('POST', '/v1/login', { email, password }, { 'token-transport': 'body' });
      assert.equal(held.status, 200);
      assert.equal((await s.json('GET', '/v1/me', undefined, { authorization: `Bearer ${held.body.access_token}` })).status, 200);
      assert.equal(gh(['user', 'disable', '--data-dir', dir, email]).code, 0);
      // Disabling ends what the user holds: refresh at once, access tokens within one revocation poll.
      assert.equal((await s.json('POST', '/v1/token/refresh', { refresh_token: held.body.refresh_token }, { 'token-transport': 'body' })).status, 401);
      const end = Date.now() + 10000; let meStatus = 200;
      while (meStatus === 200 && Date.now() < end) {
        meStatus = (await s.json('GET', '/v1/me', undefined, { authorization: `Bearer ${held.body.access_token}` })).status;
        if (meStatus === 200) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(meStatus, 401, 'access token revoked on disable');
      const disabled = await s.json('POST', '/v1/login', { email, password });
      assert.equal(disabled.status, 403);
      assert.equal(disabled.body.code, 'account_disabled');
      // A wrong password on a disabled account says nothing about the account.
      const wrong = await s.json('POST', '/v1/login', { email, password: password + '!' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.code, 'invalid_credentials');
      assert.equal(gh(['user', 'enable', '--data-dir', dir, created.id]).code, 0);
      assert.equal((await s.json('POST', '/v1/login', { email, password })).status, 200);
      // Re-enabling revives nothing that was revoked.
      assert.equal((await s.json('POST', '/v1/token/refresh', { refresh_token: held.body.refresh_token }, { 'token-transport': 'body' })).status, 401);
      assert.equal(gh(['user', 'delete', '--data-dir', dir, created.id]).code, 0);
      assert.equal((await s.json('POST', '/v1/login', { email, password })).status, 401);
      assert.notEqual(gh(['user', 'delete', '--data-dir', dir, created.id]).code, 0, 'deleting twice fails');
    } finally {
      assert.equal(await s.stop({ keepData: true }), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hash-password prints a PHC string that the server verifies', () => {
  const r = gh(['hash-password'], { input: 'violet harbor tangerine\n' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out.trim(), /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
  const b = gh(['hash-password'], { input: 'violet harbor tangerine\n', env: { GATEHOUSE_PASSWORD_ALGORITHM: 'bcrypt' } });
  assert.match(b.out.trim(), /^\$2b\$12\$/);
});

test('print-config shows effective values and redacts secrets', () => {
  const kek = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
  const r = gh(['serve', '--print-config', '--listen', '127.0.0.1:9999'], {
    env: { GATEHOUSE_KEK: kek, GATEHOUSE_STORE: 'postgres://u:dbpass@127.0.0.1:1/db', GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gh-pc-')) },
  });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /server\.listen = "127\.0\.0\.1:9999"/);
  assert.match(r.out, /secrets\.kek = "<redacted>"/);
  assert.ok(!r.out.includes(kek) && !r.out.includes('dbpass'));
});

test('production mode refuses an insecure config and says what to fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-prod-'));
  try {
    const r = gh(['serve', '--mode', 'production', '--data-dir', dir, '--listen', '127.0.0.1:0']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /secrets\.kek is missing/);
    assert.match(r.err, /public_url must be an https/);
    const short = gh(['serve', '--mode', 'production', '--data-dir', dir, '--listen', '127.0.0.1:0'],
      { env: { GATEHOUSE_KEK: 'c2hvcnQ', GATEHOUSE_PUBLIC_URL: 'https://auth.example.test' } });
    assert.notEqual(short.code, 0);
    assert.match(short.err, /at least 32 bytes/);
    // An unknown setting is an error, not silently ignored.
    const unknown = gh(['serve', '--print-config'], { env: { GATEHOUSE_SERVER_LISTEN_ADDR: 'x', GATEHOUSE_DATA_DIR: dir } });
    assert.equal(unknown.code, 0, 'unrelated GATEHOUSE_ variables are ignored');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad listen address and an unusable store fail fast with a message', () => {
  const r = gh(['serve', '--listen', 'nonsense', '--data-dir', mkdtempSync(join(tmpdir(), 'gh-bad-'))]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /listen/);
  const dir = mkdtempSync(join(tmpdir(), 'gh-badstore-'));
  try {
    const s = gh(['serve', '--store', 'mysql://x', '--listen', '127.0.0.1:0', '--data-dir', dir]);
    assert.notEqual(s.code, 0);
    assert.match(s.err, /store/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the server refuses to start on an invalid authorization policy, naming the line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-policy-'));
  try {
    const file = join(dir, 'policy.toml');
    writeFileSync(file, 'resources = ["projects"]\nactions = ["read"]\n[roles.member]\ngrants = ["projects:fly"]\n');
    const bad = new Server({ env: { GATEHOUSE_AUTHZ_POLICY_FILE: file } });
    await assert.rejects(bad.start(), /policy\.toml: line 4: unknown action 'fly'/);
    await bad.stop();
    writeFileSync(file, 'resources = ["projects"]\nactions = ["read"]\n[roles.member]\ngrants = ["projects:read"]\n');
    const good = await new Server({ env: { GATEHOUSE_AUTHZ_POLICY_FILE: file } }).start();
    assert.match(good.stdout + good.stderr, /authorization policy: 1 roles, 1 resources, 1 actions/);
    assert.equal(await good.stop(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
