// Forward-auth through a real nginx running examples/nginx/gatehouse.conf:
// real Gatehouse, real upstream app, loopback only (see lib/nginx.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cli, goodPassword, rawRequest, uniqueEmail } from './lib/server.mjs';
import { startStack } from './lib/nginx.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => {
  if (!stack) return;
  const codes = await stack.stop();
  assert.deepEqual(codes, { nginx: 0, gatehouse: 0 });
});

// Every request goes to nginx; redirects are never followed.
async function get(path, headers = {}, init = {}) {
  const res = await fetch(stack.url(path), { redirect: 'manual', headers, ...init });
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* HTML or empty */ }
  return { status: res.status, headers: res.headers, text, body };
}

async function post(path, json, headers = {}) {
  return get(path, { 'content-type': 'application/json', origin: stack.base, ...headers }, {
    method: 'POST', body: JSON.stringify(json),
  });
}

// Registers through nginx; returns { email, password, id }.
async function register() {
  const email = uniqueEmail('ngx');
  const password = goodPassword();
  const r = await post('/v1/register', { email, password, name: 'Nginx User' }, { 'token-transport': 'body' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.user.email, email);
  return { email, password, id: r.body.user.id };
}

// POST /v1/session/login through nginx; returns { cookie: 'name=value', csrf }.
async function signIn({ email, password }) {
  const r = await post('/v1/session/login', { email, password });
  assert.equal(r.status, 200, r.text);
  const set = r.headers.getSetCookie().find((c) => /^(__Host-)?gh_session=/.test(c));
  assert.ok(set, `no session cookie in ${r.headers.getSetCookie()}`);
  return { cookie: set.split(';')[0], csrf: r.body.csrf_token };
}

// What the app received after stack.app.requests had `mark` entries.
function appRequestsSince(mark) { return stack.app.requests.slice(mark); }

// Asserts a 302 to Gatehouse's sign-in page, that the app was not reached,
// and returns the return_to parameter exactly as Gatehouse's form parser will
// read it (application/x-www-form-urlencoded, i.e. WHATWG URLSearchParams,
// like web::parse_form), or null.
async function expectLoginRedirect(path, headers = {}) {
  const mark = stack.app.requests.length;
  const r = await get(path, headers);
  assert.equal(r.status, 302, `${path}: ${r.status} ${r.text}`);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const location = r.headers.get('location');
  const loc = new URL(location, stack.base);
  assert.equal(loc.origin, stack.base, 'sign-in is on the public (nginx) origin');
  assert.equal(loc.pathname, '/login');
  assert.deepEqual(appRequestsSince(mark), [], 'the app must not be reached without an identity');
  const params = [...new URLSearchParams(loc.search)];
  assert.ok(params.every(([k]) => k === 'return_to') && params.length <= 1, `${location}: only return_to`);
  return { location, returnTo: params.length ? params[0][1] : null };
}

const unhtml = (s) => s.replace(/&(?:#x([0-9a-f]+)|#(\d+)|(amp|lt|gt|quot|apos));/gi, (_, hex, dec, name) =>
  hex ? String.fromCodePoint(parseInt(hex, 16)) : dec ? String.fromCodePoint(Number(dec))
    : { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[name.toLowerCase()]);

test('no identity: 302 to /login with the original URL, query string included, as return_to', async () => {
  const paths = [
    '/',
    '/reports/2024',
    // &, +, %XX, a nested return_to, '=' and '?' inside values, an encoded slash in the query.
    '/docs/page?a=1&b=two%20words&c=x%2By&d=a+b&return_to=https%3A%2F%2Fevil.example%2F&e=k=v?w&f=%2F',
    '/caf%C3%A9/men%C3%BC?q=%E2%9C%93',
    '/search?' + Array.from({ length: 60 }, (_, i) => `k${i}=v%20${i}`).join('&'),
  ];
  for (const path of paths) {
    const { location, returnTo } = await expectLoginRedirect(path);
    assert.equal(returnTo, stack.base + path, `${path}: return_to must be the original URL byte for byte`);
    // And the sign-in page (through nginx) carries it on into its form.
    const u = new URL(location);
    const page = await get(u.pathname + u.search);
    assert.equal(page.status, 200, `GET ${location}: ${page.status}`);
    const field = /<input[^>]*name="return_to"[^>]*value="([^"]*)"/.exec(page.text);
    assert.ok(field, 'login form has a return_to field');
    assert.equal(unhtml(field[1]), stack.base + path);
  }
});

test('no identity: return_to is left out when it is not a safe place to come back to', async () => {
  // Raw bytes, because fetch can neither set Host nor keep "%2e%2e" as is.
  const addr = stack.base.slice('http://'.length);
  const rawLocation = async (target, host) => {
    const mark = stack.app.requests.length;
    const raw = await rawRequest(addr, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(raw.data, /^HTTP\/1\.1 302 /, raw.data);
    assert.deepEqual(appRequestsSince(mark), []);
    return /\r\nLocation: ([^\r]*)\r\n/i.exec(raw.data)?.[1];
  };
  // A forged Host: the URL is not on Gatehouse's public origin (no open redirect).
  assert.equal(await rawLocation('/x?a=1', 'evil.example'), `${stack.base}/login`);
  assert.equal(await rawLocation('/x?a=1', addr), `${stack.base}/login?return_to=${encodeURIComponent(`${stack.base}/x?a=1`)}`);
  // Dot segments hidden by percent-encoding, and an over-long URL.
  assert.equal(await rawLocation('/a/%2e%2e/admin', addr), `${stack.base}/login`);
  assert.equal((await expectLoginRedirect('/long?' + 'x'.repeat(2100))).returnTo, null);
  // A client-sent X-Original-URL is not what Gatehouse sees.
  const spoof = await expectLoginRedirect('/real?a=1', { 'x-original-url': 'http://evil.example/' });
  assert.equal(spoof.returnTo, `${stack.base}/real?a=1`);
});

test('signed in through nginx: the app gets X-Auth-User-Id and X-Auth-Email from Gatehouse', async () => {
  const user = await register();
  const { cookie } = await signIn(user);

  const r = await get('/api/whoami?x=1', { cookie });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.url, '/api/whoami?x=1');
  assert.equal(r.body.userId, user.id);
  assert.equal(r.body.email, user.email);

  const page = await get('/', { cookie });
  assert.equal(page.status, 200);
  assert.match(page.text, new RegExp(`<span id="email">${user.email.replace(/[.+]/g, '\\$&')}</span>`));
  assert.match(page.text, new RegExp(`<span id="user-id">${user.id}</span>`));

  // The app's own 401 is the app's answer, not a reason to send the user to sign in again.
  const own = await get('/status/401', { cookie });
  assert.equal(own.status, 401);
  assert.equal(own.headers.get('location'), null);
  assert.equal(own.body.userId, user.id);

  // A request with a body: the auth subrequest is a bodyless GET, the app still gets all of it.
  const payload = JSON.stringify({ hello: 'world', n: [1, 2, 3] });
  const p = await get('/api/items', { cookie, 'content-type': 'application/json' }, { method: 'POST', body: payload });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.method, 'POST');
  assert.equal(p.body.body, payload);
  assert.equal(p.body.userId, user.id);
});

test('forged identity headers never reach the app, with or without a session', async () => {
  const forged = { 'x-auth-user-id': 'admin', 'X-AUTH-EMAIL': 'boss@example.test', 'x_auth_user_id': 'admin', 'x_auth_email': 'boss@example.test' };
  // Without a session the forgery buys nothing: sign-in redirect, app untouched.
  await expectLoginRedirect('/api/whoami', forged);

  const user = await register();
  const { cookie } = await signIn(user);
  const r = await get('/api/whoami', { cookie, ...forged, 'x-forwarded-for': '203.0.113.66' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.userId, user.id);
  assert.equal(r.body.email, user.email);
  assert.equal(r.body.headers['x-forwarded-for'], '127.0.0.1', 'nginx is the edge: a client-sent chain is replaced');
  for (const [k, v] of Object.entries(r.body.headers)) {
    assert.ok(!/^x[-_]auth[-_]/.test(k) || k === 'x-auth-user-id' || k === 'x-auth-email', `unexpected header ${k}`);
    assert.ok(!String(v).includes('admin') && !String(v).includes('boss@'), `forged value leaked in ${k}: ${v}`);
  }

  // Repeated headers on the wire (fetch would merge them): still only Gatehouse's values.
  const raw = await rawRequest(stack.nginx.base.slice('http://'.length),
    'GET /api/whoami HTTP/1.1\r\nHost: ' + stack.nginx.base.slice('http://'.length) + '\r\n' +
    `Cookie: ${cookie}\r\n` +
    'X-Auth-User-Id: admin\r\nX-Auth-User-Id: root\r\nx-auth-email: boss@example.test\r\nX-Auth-Email: boss2@example.test\r\n' +
    'Connection: close\r\n\r\n');
  assert.match(raw.data, /^HTTP\/1\.1 200 /);
  const seen = JSON.parse(raw.data.slice(raw.data.indexOf('\r\n\r\n') + 4));
  assert.equal(seen.userId, user.id);
  assert.equal(seen.email, user.email);
  assert.equal(seen.headers['x-auth-user-id'], user.id, 'exactly one value, not a merged list');
});

test('bearer token (POST /v1/login, Token-Transport: body): the app sees the identity', async () => {
  const user = await register();
  const login = await post('/v1/login', { email: user.email, password: user.password }, { 'token-transport': 'body' });
  assert.equal(login.status, 200, login.text);
  const token = login.body.access_token;
  assert.ok(token);

  const r = await get('/api/whoami', { authorization: `Bearer ${token}`, 'x-auth-user-id': 'admin' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.userId, user.id);
  assert.equal(r.body.email, user.email);

  // A token with a tampered signature is no identity.
  const [h, p, s] = token.split('.');
  const tampered = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  await expectLoginRedirect('/api/whoami', { authorization: `Bearer ${tampered}` });
});

test('after POST /v1/session/logout the same cookie is refused (stolen cookie after logout)', async () => {
  const user = await register();
  const { cookie, csrf } = await signIn(user);
  assert.equal((await get('/api/whoami', { cookie })).body.userId, user.id);

  const out = await get('/v1/session/logout', { cookie, 'x-csrf-token': csrf, origin: stack.base }, { method: 'POST' });
  assert.equal(out.status, 204, out.text);

  const { returnTo } = await expectLoginRedirect('/api/whoami?after=logout', { cookie });
  assert.equal(returnTo, `${stack.base}/api/whoami?after=logout`);
});

test('a garbage session cookie is no identity', async () => {
  for (const cookie of [
    '__Host-gh_session=garbage',
    'gh_session=garbage',
    '__Host-gh_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; gh_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    `__Host-gh_session=${'x'.repeat(500)}`,
  ]) {
    await expectLoginRedirect('/api/whoami', { cookie });
  }
});

test('the forward-auth location is internal: a direct request gets 404, never an identity', async () => {
  const user = await register();
  const { cookie } = await signIn(user);
  const mark = stack.app.requests.length;
  for (const method of ['GET', 'POST']) {
    const r = await get('/_gatehouse/forward-auth', { cookie }, { method });
    assert.equal(r.status, 404, `${method}: ${r.status}`);
    assert.equal(r.headers.get('x-auth-user-id'), null);
    assert.equal(r.headers.get('x-auth-email'), null);
    assert.ok(!r.text.includes(user.email) && !r.text.includes(user.id));
  }
  assert.deepEqual(appRequestsSince(mark), []);
});

test('a disabled user is sent to sign in: session cookie within the 1 s session-cache bound, bearer token within one revocation poll', async () => {
  const user = await register();
  const { cookie } = await signIn(user);
  const login = await post('/v1/login', { email: user.email, password: user.password }, { 'token-transport': 'body' });
  assert.equal(login.status, 200, login.text);
  const bearer = { authorization: `Bearer ${login.body.access_token}` };
  assert.equal((await get('/api/whoami', { cookie })).body.userId, user.id);
  assert.equal((await get('/api/whoami', bearer)).body.userId, user.id);

  const d = cli(['user', 'disable', '--data-dir', stack.gh.dataDir, user.email]);
  assert.equal(d.code, 0, d.err);

  // forward-auth serves a session the store vouched for within the last second
  // (another process disabled the user); bounded polling on that condition.
  const cookieDeadline = Date.now() + 10000;
  let cookieStatus = 200;
  while (cookieStatus === 200 && Date.now() < cookieDeadline) {
    cookieStatus = (await get('/api/whoami', { cookie })).status;
    if (cookieStatus === 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(cookieStatus, 302, 'session of a disabled user still accepted after 10 s');
  await expectLoginRedirect('/api/whoami', { cookie });

  // Access tokens are stateless: Gatehouse drops them once its revocation
  // poll has seen the disable. Bounded polling on that condition.
  const deadline = Date.now() + 10000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    status = (await get('/api/whoami', bearer)).status;
    if (status === 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(status, 302, 'bearer token of a disabled user still accepted after 10 s');
  await expectLoginRedirect('/api/whoami', bearer);
});
