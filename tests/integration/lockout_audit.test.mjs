// Lockout and the audit log against the real binary: the lock bound per
// source, parallel attempts that must not get extra guesses, a lock that never
// reveals itself, the known-device exception to the account-wide lock, admin
// unlock, and the audit row of each event type (read back with `gatehouse audit`),
// with no secret in any of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Server, cli, uniqueEmail, goodPassword } from './lib/server.mjs';

const LOCK_ENV = {
  GATEHOUSE_LOCKOUT_PER_SOURCE: '3',
  GATEHOUSE_LOCKOUT_PER_ACCOUNT: '6',
  GATEHOUSE_RATE_LIMIT_ENABLED: 'false',  // this file tests lockout, not the rate limiter
};

let gh;
before(async () => { gh = await new Server({ env: LOCK_ENV }).start(); });
after(async () => { assert.equal(await gh.stop(), 0); });

// A JSON POST from a chosen loopback address (the server sees it as the client IP).
function postFrom(localAddress, path, body, headers = {}) {
  const url = new URL(gh.url(path));
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function register(tag) {
  const email = uniqueEmail(tag);
  const password = goodPassword(tag);
  const r = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(r.status, 201, r.text);
  return { email, password, id: r.body.user.id, access: r.body.access_token, refresh: r.body.refresh_token };
}

function audit(args) {
  const r = cli(['audit', '--data-dir', gh.dataDir, ...args]);
  assert.equal(r.code, 0, r.err);
  return r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// The server appends audit rows on a writer thread: poll (bounded) until `want` holds.
async function auditUntil(args, want) {
  let rows = [];
  for (let i = 0; i < 100; i += 1) {
    rows = audit(args);
    if (want(rows)) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return rows;
}

test('a source is locked after its bound; the lock answers exactly like a wrong password; unlock clears it', async () => {
  const u = await register('lock');
  const ip = '127.0.0.21';
  const wrong = [];
  for (let i = 0; i < 3; i += 1) wrong.push(await postFrom(ip, '/v1/login', { email: u.email, password: 'wrong wrong wrong wrong' }));
  for (const r of wrong) assert.equal(r.status, 401);
  // Now even the right password gets the wrong-password answer from this source.
  const locked = await postFrom(ip, '/v1/login', { email: u.email, password: u.password });
  assert.equal(locked.status, 401);
  const strip = (b) => ({ ...b, request_id: undefined });
  assert.deepEqual(strip(locked.body), strip(wrong[0].body), 'the lock is indistinguishable from a wrong password');
  // Another source is not held by this lock.
  assert.equal((await postFrom('127.0.0.22', '/v1/login', { email: u.email, password: u.password })).status, 200);
  // Admin unlock.
  const unlocked = cli(['user', 'unlock', '--data-dir', gh.dataDir, u.email]);
  assert.equal(unlocked.code, 0, unlocked.err);
  assert.equal((await postFrom(ip, '/v1/login', { email: u.email, password: u.password })).status, 200);
  const rows = await auditUntil(['--user', u.id], (r) => r.some((e) => e.action === 'user.unlock'));
  assert.ok(rows.some((e) => e.action === 'user.lockout' && e.result === 'source'), JSON.stringify(rows));
  assert.ok(rows.some((e) => e.action === 'user.login' && e.result === 'locked_source'));
  assert.ok(rows.some((e) => e.action === 'user.unlock' && e.actor === 'admin'));
});

test('20 parallel wrong passwords for one account from one source get exactly the bound of guesses', async () => {
  const u = await register('parallel');
  const ip = '127.0.0.31';
  const results = await Promise.all(Array.from({ length: 20 },
    () => postFrom(ip, '/v1/login', { email: u.email, password: 'wrong wrong wrong wrong' })));
  for (const r of results) assert.equal(r.status, 401);
  const rows = await auditUntil(['--user', u.id, '--action', 'user.login'], (r) => r.length >= 20);
  assert.equal(rows.length, 20, 'one audit row per attempt (one failure counts once)');
  assert.equal(rows.filter((e) => e.result === 'wrong_password').length, 3, 'exactly per_source passwords were checked');
  assert.equal(rows.filter((e) => e.result === 'locked_source').length, 17);
  assert.equal(rows.filter((e) => e.result === 'locked_source').every((e) => e.ip === ip), true);
});

test('the account-wide lock holds unknown devices but not the owner\'s known device', async () => {
  const u = await register('device');
  // The owner signs in once from their browser and keeps its device cookie.
  const first = await postFrom('127.0.0.41', '/v1/login', { email: u.email, password: u.password });
  assert.equal(first.status, 200);
  const device = first.headers['set-cookie'].find((c) => c.startsWith('__Host-gh_device='));
  assert.match(device, /^__Host-gh_device=[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Lax$/);
  const deviceCookie = device.split(';')[0];
  // An attacker sprays from two addresses: 6 failures lock the account for everyone else.
  for (const ip of ['127.0.0.42', '127.0.0.43'])
    for (let i = 0; i < 3; i += 1)
      assert.equal((await postFrom(ip, '/v1/login', { email: u.email, password: 'wrong wrong wrong wrong' })).status, 401);
  assert.equal((await postFrom('127.0.0.44', '/v1/login', { email: u.email, password: u.password })).status, 401,
    'a new device with the right password is held by the account lock');
  // A forged or foreign device cookie does not help.
  const forged = deviceCookie.slice(0, -3) + (deviceCookie.endsWith('AAA') ? 'BBB' : 'AAA');
  assert.equal((await postFrom('127.0.0.44', '/v1/login', { email: u.email, password: u.password }, { cookie: forged })).status, 401);
  // The owner's browser gets in.
  const owner = await postFrom('127.0.0.45', '/v1/login', { email: u.email, password: u.password }, { cookie: deviceCookie });
  assert.equal(owner.status, 200, owner.text);
  const rows = await auditUntil(['--user', u.id, '--action', 'user.lockout'], (r) => r.some((e) => e.result === 'account'));
  assert.ok(rows.some((e) => e.result === 'account'));
});

test('every authentication event type has its audit row, with request metadata and no secret', async () => {
  const u = await register('events');
  const login = await gh.json('POST', '/v1/login', { email: u.email, password: u.password }, { 'token-transport': 'body', 'user-agent': 'audit-test-agent' });
  assert.equal(login.status, 200);
  assert.equal((await gh.json('POST', '/v1/login', { email: u.email, password: 'not the one at all' })).status, 401);
  const refreshed = await gh.json('POST', '/v1/token/refresh', { refresh_token: login.body.refresh_token }, { 'token-transport': 'body' });
  assert.equal(refreshed.status, 200);
  // Rotate again, then replay the first token: reuse (past the grace for the latest rotation).
  const second = await gh.json('POST', '/v1/token/refresh', { refresh_token: refreshed.body.refresh_token }, { 'token-transport': 'body' });
  assert.equal(second.status, 200);
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: login.body.refresh_token }, { 'token-transport': 'body' })).status, 401);
  const s = await gh.json('POST', '/v1/session/login', { email: u.email, password: u.password });
  assert.equal(s.status, 200);
  const cookie = s.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_session=')).split(';')[0];
  assert.equal((await gh.json('POST', '/v1/session/logout', '', { cookie, 'x-csrf-token': s.body.csrf_token })).status, 204);
  const next = goodPassword('changed');
  const again = await gh.json('POST', '/v1/login', { email: u.email, password: u.password }, { 'token-transport': 'body' });
  assert.equal((await gh.json('POST', '/v1/password/change', { current_password: u.password, new_password: next },
    { authorization: `Bearer ${again.body.access_token}` })).status, 200);
  const last = await gh.json('POST', '/v1/login', { email: u.email, password: next }, { 'token-transport': 'body' });
  assert.equal((await gh.json('POST', '/v1/logout', { refresh_token: last.body.refresh_token },
    { 'token-transport': 'body', authorization: `Bearer ${last.body.access_token}` })).status, 204);
  const fresh = await gh.json('POST', '/v1/login', { email: u.email, password: next }, { 'token-transport': 'body' });
  assert.equal((await gh.json('POST', '/v1/logout/all', '', { authorization: `Bearer ${fresh.body.access_token}` })).status, 204);
  const rotated = cli(['keys', 'rotate', '--data-dir', gh.dataDir]);
  assert.equal(rotated.code, 0, rotated.err);
  const kid = JSON.parse(rotated.out).kid;

  const want = [['user.register', 'success'], ['user.login', 'success'], ['user.login', 'wrong_password'],
    ['token.refresh', 'success'], ['token.refresh_reuse'], ['session.create', 'success'], ['session.end', 'success'],
    ['user.password_change', 'success'], ['user.logout'], ['user.logout_all']];
  const rows = await auditUntil(['--user', u.id], (r) => want.every(([a, res]) => r.some((e) => e.action === a && (!res || e.result === res))));
  for (const [action, result] of want)
    assert.ok(rows.some((e) => e.action === action && (!result || e.result === result)), `${action} ${result ?? ''} in ${JSON.stringify(rows.map((e) => `${e.action}:${e.result}`))}`);
  const loginRow = rows.find((e) => e.action === 'user.login' && e.result === 'success' && e.user_agent === 'audit-test-agent');
  assert.ok(loginRow, 'user agent recorded');
  assert.equal(loginRow.ip, '127.0.0.1');
  assert.match(loginRow.request_id, /^[A-Za-z0-9_-]{8,}$/);
  assert.match(loginRow.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const keyRows = audit(['--action', 'key.rotate']);
  assert.ok(keyRows.some((e) => e.subject === kid && e.actor === 'admin'));
  // Filters: time window and result.
  assert.equal(audit(['--user', u.id, '--since', '2999-01-01T00:00:00Z']).length, 0);
  assert.ok(audit(['--user', u.id, '--result', 'wrong_password']).every((e) => e.result === 'wrong_password'));
  assert.notEqual(cli(['audit', '--data-dir', gh.dataDir, '--since', 'yesterday']).code, 0);

  // No secret anywhere: passwords, tokens, cookies — in the audit rows or the server's logs.
  const everything = JSON.stringify(audit([])) + gh.stdout + gh.stderr;
  for (const secret of [u.password, next, login.body.refresh_token, login.body.access_token, refreshed.body.refresh_token,
    cookie.split('=')[1], s.body.csrf_token])
    assert.ok(!everything.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`);
});
