// Rate limiting against the real binary (issue #5): per-IP and per-account
// limits (the owner's known device exempt from the latter) with 429 + Retry-After + RateLimit-* headers (HTML for the hosted
// forms), the trusted-proxy rule for the client address (and spoofing from an
// untrusted peer changing nothing), two instances sharing one Redis (the limit
// is global), and Redis going down: 503 by default, per-instance limits with
// redis_failure = "local", /readyz saying which.
//
// Limits are low and set through the environment, so nothing waits for time to
// pass; distinct clients are distinct loopback source addresses (127.0.0.x).
// Every server here enables rate limiting explicitly (lib/server.mjs turns it
// off for the other suites).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Server, uniqueEmail, goodPassword } from './lib/server.mjs';

const REDIS = resolve(import.meta.dirname, '../../scripts/redis-test-server.sh');
const ON = { GATEHOUSE_RATE_LIMIT_ENABLED: 'true' };

// One HTTP request from a chosen loopback source address. `body`: an object is
// sent as JSON, a string as a form.
function send(server, method, path, { body, headers = {}, from = '127.0.0.1' } = {}) {
  const url = new URL(server.url(path));
  const isForm = typeof body === 'string';
  const data = body === undefined ? '' : (isForm ? body : JSON.stringify(body));
  const type = isForm ? 'application/x-www-form-urlencoded' : 'application/json';
  return new Promise((resolveRes, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method, localAddress: from, agent: false,
      headers: { 'content-type': type, 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolveRes({ status: res.statusCode, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const login = (server, email, password, opts = {}) => send(server, 'POST', '/v1/login', { body: { email, password }, ...opts });

async function register(server, opts = {}) {
  const email = uniqueEmail('rl');
  const password = goodPassword('rl');
  const r = await send(server, 'POST', '/v1/register', { body: { email, password }, headers: { 'token-transport': 'body' }, ...opts });
  assert.equal(r.status, 201, r.text);
  return { email, password, r };
}

function assertLimitHeaders(res, { limit, remaining }) {
  assert.equal(res.headers['ratelimit-limit'], String(limit), 'RateLimit-Limit');
  assert.equal(res.headers['ratelimit-remaining'], String(remaining), 'RateLimit-Remaining');
  assert.match(res.headers['ratelimit-reset'] ?? '', /^\d+$/, 'RateLimit-Reset');
}

function assertRateLimited(res, retryAfter) {
  assert.equal(res.status, 429, res.text);
  assert.equal(res.body.code, 'rate_limited');
  assert.match(res.headers['content-type'], /application\/problem\+json/);
  assert.equal(res.headers['retry-after'], String(retryAfter));
  assert.equal(res.headers['ratelimit-remaining'], '0');
}

// The audit lines the server wrote for limit trips (JSON lines on stdout, written
// by the audit log's own thread): waits (bounded) until there are at least `n`.
async function trips(server, limit, n = 1) {
  const lines = () => server.stdout.split('\n').filter((l) => l.includes('"rate_limit.tripped"') && l.includes(`"${limit}"`));
  await until(() => lines().length >= n, `${n} audit line(s) for ${limit}`);
  return lines();
}

// Polls `fn` until it returns true; bounded (no fixed sleep standing in for a condition).
async function until(fn, what) {
  for (let i = 0; i < 200; i += 1) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('per client IP', () => {
  let gh;
  before(async () => {
    gh = await new Server({
      env: {
        ...ON,
        GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP: '3/1h',       // one attempt per 20 min after a burst of 3
        GATEHOUSE_RATE_LIMIT_REGISTER_PER_IP: '2/1h',
        GATEHOUSE_RATE_LIMIT_PASSWORD_CHANGE_PER_IP: '1/1h',
        GATEHOUSE_RATE_LIMIT_REFRESH_PER_IP: '1/1h',
      },
    }).start();
  });
  after(async () => { assert.equal(await gh.stop(), 0); });

  test('login: headers on every answer, then 429 with Retry-After; JSON, session and form logins share the budget', async () => {
    const from = '127.0.0.2';
    for (let i = 0; i < 3; i += 1) {
      const r = await login(gh, uniqueEmail('nobody'), 'wrong-password-wrong', { from });
      assert.equal(r.status, 401, r.text);
      assertLimitHeaders(r, { limit: 3, remaining: 2 - i });
    }
    const refused = await login(gh, uniqueEmail('nobody'), 'wrong-password-wrong', { from });
    assertRateLimited(refused, 1200);
    assert.match(refused.body.detail, /retry after 1200 seconds/);
    assert.equal(refused.headers['ratelimit-limit'], '3');
    // The browser-session login and the hosted form count against the same budget.
    assertRateLimited(await send(gh, 'POST', '/v1/session/login', { body: { email: 'a@b.test', password: 'x' }, from }), 1200);
    const page = await send(gh, 'POST', '/login', { body: 'email=a%40b.test&password=x&csrf=x', from });
    assert.equal(page.status, 429);
    assert.match(page.headers['content-type'], /text\/html/);
    assert.equal(page.headers['retry-after'], '1200');
    assert.match(page.text, /Too many attempts/);
    assert.match(page.text, /about 20 minutes/);
    // Another client is not affected.
    const other = await login(gh, uniqueEmail('nobody'), 'wrong-password-wrong', { from: '127.0.0.3' });
    assert.equal(other.status, 401);
    assertLimitHeaders(other, { limit: 3, remaining: 2 });
    // One audit event per trip (not one per refused request), and a metric per refusal.
    const tripped = await trips(gh, 'login_per_ip');
    assert.equal(tripped.length, 1, gh.stdout.slice(-2000));
    assert.match(tripped[0], /"ip":"127\.0\.0\.2"/);
    assert.match(tripped[0], /"subject":"ip:127\.0\.0\.2"/);
    const metrics = await (await fetch(gh.url('/metrics'))).text();
    assert.match(metrics, /gatehouse_rate_limited_total\{limit="login_per_ip"\} 3/);
  });

  test('register: JSON and form share a per-IP budget; allowed answers carry the headers', async () => {
    const from = '127.0.0.4';
    const first = await register(gh, { from });
    assertLimitHeaders(first.r, { limit: 2, remaining: 1 });
    await register(gh, { from });
    const refused = await send(gh, 'POST', '/v1/register', { body: { email: uniqueEmail('rl'), password: goodPassword() }, from });
    assertRateLimited(refused, 1800);
    const page = await send(gh, 'POST', '/register', { body: 'email=a%40b.test&password=x&csrf=x', from });
    assert.equal(page.status, 429);
    assert.match(page.headers['content-type'], /text\/html/);
    assert.equal((await trips(gh, 'register_per_ip')).length, 1);
  });

  test('password change and refresh are limited per IP', async () => {
    const from = '127.0.0.5';
    const pw = await send(gh, 'POST', '/v1/password/change', { body: { current_password: 'a', new_password: 'b' }, from });
    assert.equal(pw.status, 401);  // no bearer token: still an attempt
    assertLimitHeaders(pw, { limit: 1, remaining: 0 });
    assertRateLimited(await send(gh, 'POST', '/v1/password/change', { body: { current_password: 'a', new_password: 'b' }, from }), 3600);
    const rf = await send(gh, 'POST', '/v1/token/refresh', { body: { refresh_token: 'x'.repeat(43) }, headers: { 'token-transport': 'body' }, from });
    assert.equal(rf.status, 401);
    assertRateLimited(await send(gh, 'POST', '/v1/token/refresh', { body: {}, from }), 3600);
    // Endpoints without a limit carry no headers.
    const me = await send(gh, 'GET', '/v1/me', { from });
    assert.equal(me.headers['ratelimit-limit'], undefined);
  });

  test('/readyz reports the in-process limiter', async () => {
    const r = await gh.json('GET', '/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.rate_limit, { backend: 'local', state: 'ok' });
  });
});

describe('per account', () => {
  let gh;
  before(async () => {
    gh = await new Server({
      env: { ...ON, GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP: '1000/1m', GATEHOUSE_RATE_LIMIT_LOGIN_PER_ACCOUNT: '3/1h' },
    }).start();
  });
  after(async () => { assert.equal(await gh.stop(), 0); });

  test('failed logins for one account are limited across client addresses; successes do not count', async () => {
    const { email, password } = await register(gh);
    // Signing in works as often as the person likes: a success is given back.
    let device = '';
    for (let i = 0; i < 5; i += 1) {
      const ok = await login(gh, email, password);
      assert.equal(ok.status, 200);
      device = (ok.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-gh_device='))?.split(';')[0] ?? device;
    }
    assert.ok(device, 'a known-device cookie was issued');
    // Three failures from three addresses, with the email spelled differently.
    const spellings = [email, email.toUpperCase(), `  ${email}`];
    for (let i = 0; i < 3; i += 1) {
      const r = await login(gh, spellings[i], 'wrong-password-wrong', { from: `127.0.0.${10 + i}` });
      assert.equal(r.status, 401, r.text);
      // Allowed answers show the caller's own per-IP budget, never the account's
      // (that would tell anyone how many failures the account has had).
      assertLimitHeaders(r, { limit: 1000, remaining: 999 });
    }
    // A fourth address, a fourth guess: refused before the password is checked.
    assertRateLimited(await login(gh, email, 'wrong-password-wrong', { from: '127.0.0.13' }), 1200);
    assertRateLimited(await login(gh, email, password, { from: '127.0.0.14' }), 1200);
    assertRateLimited(await send(gh, 'POST', '/v1/session/login', { body: { email, password }, from: '127.0.0.15' }), 1200);
    // The hosted sign-in form (a real form post with its login-CSRF token): a friendly page.
    const form = await fetch(gh.url('/login'));
    const formCookie = form.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_form=')).split(';')[0];
    const csrf = (await form.text()).match(/name="csrf" value="([^"]*)"/)[1];
    const page = await send(gh, 'POST', '/login', {
      body: new URLSearchParams({ csrf, email, password }).toString(),
      headers: { cookie: formCookie, origin: gh.base, 'sec-fetch-site': 'same-origin' },
      from: '127.0.0.16',
    });
    assert.equal(page.status, 429, page.text);
    assert.match(page.headers['content-type'], /text\/html/);
    assert.equal(page.headers['retry-after'], '1200');
    assert.match(page.text, /Too many attempts/);
    // The owner's own browser (its known-device cookie) is not held by the per-account limit,
    // so guesses sprayed from elsewhere cannot keep the owner out.
    const owner = await login(gh, email, password, { from: '127.0.0.17', headers: { cookie: device } });
    assert.equal(owner.status, 200, owner.text);
    const forged = await login(gh, email, password, { from: '127.0.0.18', headers: { cookie: `${device.slice(0, -4)}AAAA` } });
    assertRateLimited(forged, 1200);
    // Another account is unaffected, from the same addresses.
    const other = await register(gh);
    assert.equal((await login(gh, other.email, other.password, { from: '127.0.0.13' })).status, 200);
    const audit = await trips(gh, 'login_per_account');
    assert.equal(audit.length, 1);
    assert.match(audit[0], new RegExp(`"subject":"email:${email.toLowerCase().replace(/[.+]/g, '\\$&')}"`));
    assert.doesNotMatch(gh.stdout + gh.stderr, /wrong-password-wrong/, 'no password in any log line');
  });

  test('an unknown email is limited the same way (no hint that the account does not exist)', async () => {
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 3; i += 1) assert.equal((await login(gh, ghost, 'wrong-password-wrong')).status, 401);
    assertRateLimited(await login(gh, ghost, 'wrong-password-wrong'), 1200);
  });
});

describe('client address behind a trusted proxy', () => {
  let trusted;
  let plain;
  const env = { ...ON, GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP: '2/1h' };
  before(async () => {
    trusted = await new Server({ env: { ...env, GATEHOUSE_SERVER_TRUSTED_PROXIES: '127.0.0.1/32' } }).start();
    plain = await new Server({ env }).start();
  });
  after(async () => {
    assert.equal(await trusted.stop(), 0);
    assert.equal(await plain.stop(), 0);
  });
  const attempt = (server, from, xff) =>
    login(server, uniqueEmail('px'), 'wrong-password-wrong', { from, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });

  test('X-Forwarded-For from the trusted proxy decides the client', async () => {
    // 127.0.0.1 is the proxy: each forwarded client has its own budget.
    assert.equal((await attempt(trusted, '127.0.0.1', '198.51.100.1')).status, 401);
    assert.equal((await attempt(trusted, '127.0.0.1', '198.51.100.1')).status, 401);
    assertRateLimited(await attempt(trusted, '127.0.0.1', '198.51.100.1'), 1800);
    assert.equal((await attempt(trusted, '127.0.0.1', '198.51.100.2')).status, 401);
    // The right-most untrusted entry is the client: a client-written entry on the left changes nothing...
    assertRateLimited(await attempt(trusted, '127.0.0.1', '203.0.113.66, 198.51.100.1'), 1800);
    // ...and trusted hops on the right are skipped.
    assertRateLimited(await attempt(trusted, '127.0.0.1', '198.51.100.1, 127.0.0.1'), 1800);
    // The audit event names the forwarded client.
    assert.match((await trips(trusted, 'login_per_ip'))[0], /"ip":"198\.51\.100\.1"/);
  });

  test('a malformed header is ignored: the proxy itself is the client', async () => {
    assert.equal((await attempt(trusted, '127.0.0.1', 'not-an-address')).status, 401);
    assert.equal((await attempt(trusted, '127.0.0.1', '198.51.100.3, junk')).status, 401);
    assertRateLimited(await attempt(trusted, '127.0.0.1', ''), 1800);  // all three were 127.0.0.1
    assert.equal((await attempt(trusted, '127.0.0.1', '198.51.100.3')).status, 401, '198.51.100.3 was never charged');
  });

  test('a spoofed header from an untrusted peer changes nothing', async () => {
    // 127.0.0.20 is not a trusted proxy on `trusted`; `plain` trusts nobody.
    for (const [server, from] of [[trusted, '127.0.0.20'], [plain, '127.0.0.1']]) {
      assert.equal((await attempt(server, from, '198.51.100.50')).status, 401);
      assert.equal((await attempt(server, from, '198.51.100.51')).status, 401);
      const r = await attempt(server, from, '198.51.100.52');
      assertRateLimited(r, 1800);
    }
    assert.match((await trips(plain, 'login_per_ip'))[0], /"ip":"127\.0\.0\.1"/);
    assert.ok((await trips(trusted, 'login_per_ip', 3)).some((l) => l.includes('"ip":"127.0.0.20"')));
  });

  test('sessions record the forwarded client address', async () => {
    const { email, password } = await register(trusted, { from: '127.0.0.30' });
    const r = await send(trusted, 'POST', '/v1/session/login', { body: { email, password }, headers: { 'x-forwarded-for': '192.0.2.77' } });
    assert.equal(r.status, 200, r.text);
    const cookie = r.headers['set-cookie'][0].split(';')[0];
    const list = await send(trusted, 'GET', '/v1/sessions', { headers: { cookie } });
    assert.equal(list.body.sessions[0].ip, '192.0.2.77');
  });
});

describe('Redis: one limit for every instance', () => {
  let dir;
  let url;
  let a;
  let b;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-it-rl-redis-'));
    const r = spawnSync(REDIS, ['start', dir], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    url = `${readFileSync(join(dir, 'url'), 'utf8').trim()}/4`;
    const env = { ...ON, GATEHOUSE_RATE_LIMIT_STORE_URL: url, GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP: '4/1h' };
    a = await new Server({ env }).start();
    b = await new Server({ env }).start();
  });
  after(async () => {
    assert.equal(await a.stop(), 0);
    assert.equal(await b.stop(), 0);
    spawnSync(REDIS, ['stop', dir], { timeout: 60000 });
    rmSync(dir, { recursive: true, force: true });
  });

  test('two instances sharing one Redis share the budget', async () => {
    const from = '127.0.0.40';
    const seen = [];
    for (const server of [a, b, a, b]) {
      const r = await login(server, uniqueEmail('g'), 'wrong-password-wrong', { from });
      assert.equal(r.status, 401, r.text);
      seen.push(r.headers['ratelimit-remaining']);
    }
    assert.deepEqual(seen, ['3', '2', '1', '0'], 'one count across both instances');
    assertRateLimited(await login(a, uniqueEmail('g'), 'wrong-password-wrong', { from }), 900);
    assertRateLimited(await login(b, uniqueEmail('g'), 'wrong-password-wrong', { from }), 900);
    // The state is one Redis key per client and limit, with a TTL.
    const keys = spawnSync('redis-cli', ['-u', url, '--scan', '--pattern', 'gh:rl:*'], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.ok(keys.includes('gh:rl:login_per_ip:127.0.0.40'), keys.join(','));
    const ttl = Number(spawnSync('redis-cli', ['-u', url, 'PTTL', 'gh:rl:login_per_ip:127.0.0.40'], { encoding: 'utf8' }).stdout.trim());
    assert.ok(ttl > 0 && ttl <= 3600000, `PTTL ${ttl}`);
    // No email is stored in Redis, only a hash of it.
    assert.ok(keys.every((k) => !k.includes('@')), keys.join(','));
    for (const s of [a, b]) {
      const r = await s.json('GET', '/readyz');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.rate_limit, { backend: 'redis', state: 'ok' });
    }
  });
});

describe('Redis down', () => {
  let dir;
  let port;
  let closed;
  let local;
  const start = (p) => spawnSync(REDIS, ['start', dir, ...(p ? [String(p)] : [])], { encoding: 'utf8', timeout: 60000 });
  const stop = () => spawnSync(REDIS, ['stop', dir], { encoding: 'utf8', timeout: 60000 });
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-it-rl-down-'));
    assert.equal(start().status, 0);
    const base = readFileSync(join(dir, 'url'), 'utf8').trim();
    port = Number(base.split(':').pop());
    const env = { ...ON, GATEHOUSE_RATE_LIMIT_STORE_URL: `${base}/0`, GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP: '2/1h' };
    closed = await new Server({ env }).start();
    local = await new Server({ env: { ...env, GATEHOUSE_RATE_LIMIT_REDIS_FAILURE: 'local' } }).start();
  });
  after(async () => {
    assert.equal(await closed.stop(), 0);
    assert.equal(await local.stop(), 0);
    stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('fails closed by default (503 rate_limit_unavailable, /readyz 503); "local" keeps per-instance limits; both recover', async () => {
    assert.equal((await login(closed, uniqueEmail('d'), 'wrong-password-wrong', { from: '127.0.0.50' })).status, 401);
    assert.equal(stop().status, 0);

    const refused = await login(closed, uniqueEmail('d'), 'wrong-password-wrong', { from: '127.0.0.50' });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.code, 'rate_limit_unavailable');
    assert.ok(refused.headers['retry-after']);
    const page = await send(closed, 'POST', '/login', { body: 'email=a%40b.test&password=x&csrf=x', from: '127.0.0.50' });
    assert.equal(page.status, 503);
    assert.match(page.headers['content-type'], /text\/html/);
    const ready = await closed.json('GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body.rate_limit, { backend: 'redis', state: 'unreachable' });
    // Endpoints without a limit keep working.
    assert.equal((await closed.json('GET', '/healthz')).status, 200);
    assert.equal((await closed.json('GET', '/.well-known/jwks.json')).status, 200);
    const metrics = await (await fetch(closed.url('/metrics'))).text();
    assert.match(metrics, /gatehouse_rate_limit_store_errors_total\{action="refused"\} [1-9]/);

    // "local": this instance's own limits apply (2 per client), and it stays ready.
    for (let i = 0; i < 2; i += 1) {
      assert.equal((await login(local, uniqueEmail('d'), 'wrong-password-wrong', { from: '127.0.0.51' })).status, 401);
    }
    assertRateLimited(await login(local, uniqueEmail('d'), 'wrong-password-wrong', { from: '127.0.0.51' }), 1800);
    const localReady = await local.json('GET', '/readyz');
    assert.equal(localReady.status, 200);
    assert.deepEqual(localReady.body.rate_limit, { backend: 'redis', state: 'local_fallback' });

    // Redis back on its port (empty: no persistence): both reconnect on their own.
    assert.equal(start(port).status, 0);
    await until(async () => (await closed.json('GET', '/readyz')).status === 200, 'readyz to recover');
    assert.equal((await login(closed, uniqueEmail('d'), 'wrong-password-wrong', { from: '127.0.0.50' })).status, 401);
    assert.equal((await local.json('GET', '/readyz')).body.rate_limit.state, 'ok');
  });
});
