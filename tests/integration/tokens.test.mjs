// Access and refresh tokens over HTTP: issuance, transport, /v1/me, rotation,
// reuse detection, concurrent refresh, logout, password change, restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, signUp, uniqueEmail, goodPassword, rawRequest } from './lib/server.mjs';

let gh;
before(async () => { gh = await new Server().start(); });
after(async () => { assert.equal(await gh.stop(), 0); });

const bodyTransport = { 'token-transport': 'body' };
const bearer = (t) => ({ authorization: `Bearer ${t}` });

test('login returns an access token and, for API clients, a refresh token in the body', async () => {
  const { email, password, res } = await signUp(gh);
  assert.equal(res.body.token_type, 'Bearer');
  assert.equal(res.body.expires_in, 900);
  assert.ok(res.body.refresh_token.length >= 43, '>= 256 bits');
  assert.equal(res.headers.get('set-cookie'), null, 'no cookie with body transport');
  const login = await gh.json('POST', '/v1/login', { email, password }, bodyTransport);
  assert.equal(login.status, 200);
  assert.notEqual(login.body.refresh_token, res.body.refresh_token);
  const [h, p] = login.body.access_token.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url')));
  assert.equal(h.typ, 'at+jwt');
  assert.equal(h.alg, 'EdDSA');
  for (const c of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'client_id']) assert.ok(c in p, c);
  assert.equal(p.sub, login.body.user.id);
  assert.equal(p.exp - p.iat, 900);
  assert.equal(p.iss, gh.base);
});

test('browsers get the refresh token only in HttpOnly, Secure, SameSite=Strict cookies on the refresh/logout paths', async () => {
  const email = uniqueEmail('cookie');
  const r = await gh.json('POST', '/v1/register', { email, password: goodPassword() });
  assert.equal(r.status, 201);
  assert.equal(r.body.refresh_token, undefined, 'not in the body');
  const cookies = r.headers.getSetCookie();
  assert.equal(cookies.length, 2);
  const paths = cookies.map((c) => c.match(/Path=([^;]+)/)[1]).sort();
  assert.deepEqual(paths, ['/v1/logout', '/v1/token/refresh']);
  for (const c of cookies) {
    assert.match(c, /^__Secure-gh_refresh=[A-Za-z0-9_-]{43};/);
    assert.match(c, /; Secure/);
    assert.match(c, /; HttpOnly/);
    assert.match(c, /; SameSite=Strict/);
    assert.match(c, /Max-Age=604800/);
  }
  // The cookie refreshes; the rotated cookie replaces it.
  const value = cookies[0].split(';')[0];
  const rr = await gh.json('POST', '/v1/token/refresh', '', { cookie: value });
  assert.equal(rr.status, 200, rr.text);
  assert.ok(rr.body.access_token);
  assert.notEqual(rr.headers.getSetCookie()[0].split(';')[0], value);
  assert.equal(rr.headers.get('cache-control'), 'no-store');
  // Cross-origin requests with the cookie are refused (refresh and logout).
  const fresh = rr.headers.getSetCookie()[0].split(';')[0];
  const evil = await gh.json('POST', '/v1/token/refresh', '', { cookie: fresh, origin: 'http://evil.test' });
  assert.equal(evil.status, 403);
  const evilLogout = await gh.json('POST', '/v1/logout', '', { cookie: fresh, origin: 'http://evil.test' });
  assert.equal(evilLogout.status, 403);
  assert.equal((await gh.json('POST', '/v1/token/refresh', '', { cookie: fresh })).status, 200, 'still alive');
});

test('GET /v1/me: the user for a valid token, 401 with WWW-Authenticate otherwise', async () => {
  const { res } = await signUp(gh);
  const me = await gh.json('GET', '/v1/me', undefined, bearer(res.body.access_token));
  assert.equal(me.status, 200, me.text);
  assert.equal(me.body.user.id, res.body.user.id);
  assert.equal(me.headers.get('cache-control'), 'no-store');
  const none = await gh.json('GET', '/v1/me');
  assert.equal(none.status, 401);
  assert.equal(none.body.code, 'invalid_token');
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
  const bad = await gh.json('GET', '/v1/me', undefined, bearer('not.a.token'));
  assert.equal(bad.status, 401);
  assert.equal(bad.body.code, 'invalid_token');
  assert.match(bad.headers.get('www-authenticate'), /error="invalid_token"/);
  const basic = await gh.json('GET', '/v1/me', undefined, { authorization: 'Basic dXNlcjpwYXNz' });
  assert.equal(basic.status, 401);
});

test('refresh rotates: each token works once, the child works, and the pair is new', async () => {
  const { res } = await signUp(gh);
  const r1 = await gh.json('POST', '/v1/token/refresh', { refresh_token: res.body.refresh_token }, bodyTransport);
  assert.equal(r1.status, 200, r1.text);
  assert.notEqual(r1.body.refresh_token, res.body.refresh_token);
  assert.notEqual(r1.body.access_token, res.body.access_token);
  const r2 = await gh.json('POST', '/v1/token/refresh', { refresh_token: r1.body.refresh_token }, bodyTransport);
  assert.equal(r2.status, 200);
  const me = await gh.json('GET', '/v1/me', undefined, bearer(r2.body.access_token));
  assert.equal(me.status, 200);
  for (const junk of ['', 'x'.repeat(43), 'a'.repeat(9000)]) {
    const r = await gh.json('POST', '/v1/token/refresh', { refresh_token: junk }, bodyTransport);
    assert.ok(r.status === 401 || r.status === 400, `${junk.length}: ${r.status}`);
  }
});

test('logout revokes the family and the access token; logout/all and password change revoke the others', async () => {
  const { email, password, res } = await signUp(gh);
  const other = await gh.json('POST', '/v1/login', { email, password }, bodyTransport);
  const third = await gh.json('POST', '/v1/login', { email, password }, bodyTransport);
  // logout with access + refresh token
  const out = await gh.json('POST', '/v1/logout', { refresh_token: res.body.refresh_token }, { ...bodyTransport, ...bearer(res.body.access_token) });
  assert.equal(out.status, 204, out.text);
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(res.body.access_token))).status, 401);
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: res.body.refresh_token }, bodyTransport)).status, 401);
  // the other sessions are untouched
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(other.body.access_token))).status, 200);

  // password change: requires the current password, keeps the caller, ends the others
  const wrong = await gh.json('POST', '/v1/password/change', { current_password: password + 'x', new_password: goodPassword() }, bearer(other.body.access_token));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.code, 'invalid_credentials');
  const newPassword = goodPassword('n');
  const missing = await gh.json('POST', '/v1/password/change', { new_password: newPassword }, bearer(other.body.access_token));
  assert.equal(missing.status, 400);
  assert.equal(missing.body.code, 'missing_field');
  const common = await gh.json('POST', '/v1/password/change', { current_password: password, new_password: 'passwordpassword' }, bearer(other.body.access_token));
  assert.equal(common.status, 422);
  const changed = await gh.json('POST', '/v1/password/change', { current_password: password, new_password: newPassword }, bearer(other.body.access_token));
  assert.equal(changed.status, 200, changed.text);
  assert.equal(changed.headers.get('cache-control'), 'no-store');
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(other.body.access_token))).status, 401, "the caller's older access token is revoked too");
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(changed.body.access_token))).status, 200, 'fresh token works');
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(third.body.access_token))).status, 401, 'other session access token revoked');
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: third.body.refresh_token }, bodyTransport)).status, 401, 'other family revoked');
  const keep = await gh.json('POST', '/v1/token/refresh', { refresh_token: other.body.refresh_token }, bodyTransport);
  assert.equal(keep.status, 200, 'the caller stays signed in');
  assert.equal((await gh.json('POST', '/v1/login', { email, password }, bodyTransport)).status, 401);
  const fresh = await gh.json('POST', '/v1/login', { email, password: newPassword }, bodyTransport);
  assert.equal(fresh.status, 200);

  // logout/all
  const all = await gh.json('POST', '/v1/logout/all', '', bearer(fresh.body.access_token));
  assert.equal(all.status, 204);
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(fresh.body.access_token))).status, 401);
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(keep.body.access_token))).status, 401);
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: keep.body.refresh_token }, bodyTransport)).status, 401);
});

test('logout with an expired or bad access token still revokes the presented refresh token', async () => {
  const { res } = await signUp(gh);
  const r = await gh.json('POST', '/v1/logout', { refresh_token: res.body.refresh_token }, { ...bodyTransport, ...bearer('garbage.token.here') });
  assert.equal(r.status, 204);
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: res.body.refresh_token }, bodyTransport)).status, 401);
});

test('audit lines cannot be forged through the User-Agent (log injection)', async () => {
  const s = await new Server().start();
  try {
    const evil = 'x"} {"action":"user.login","result":"success","actor":"anonymous"}';
    await s.json('POST', '/v1/login', { email: 'nobody@example.test', password: 'whatever-long-password' }, { 'user-agent': evil });
    const body = '{"email":"n@e.test","password":"p-long-enough-123"}';
    const raw = await rawRequest(s.addr, `POST /v1/login HTTP/1.1\r\nHost: x\r\nUser-Agent: a\u0001b\u001b[31m"}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(raw.data, /^HTTP\/1\.1 (401|400)/);
    const end = Date.now() + 5000;
    while (!s.stdout.includes('"user.login"') && Date.now() < end) await new Promise((x) => setTimeout(x, 20));
    for (const line of s.stdout.split('\n').filter((l) => l.includes('"stream":"audit"'))) {
      const j = JSON.parse(line);  // every audit line is one valid JSON object
      assert.equal(j.event.result === 'success' && j.event.actor === 'anonymous', false);
    }
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('revocations survive a restart', async () => {
  const s = await new Server().start();
  const { res } = await signUp(s);
  assert.equal((await s.json('POST', '/v1/logout', '', bearer(res.body.access_token))).status, 204);
  assert.equal(await s.stop({ keepData: true }), 0);
  const s2 = await new Server({ dataDir: s.dataDir }).start();
  try {
    assert.equal((await s2.json('GET', '/v1/me', undefined, bearer(res.body.access_token))).status, 401);
    assert.equal((await s2.json('POST', '/v1/token/refresh', { refresh_token: res.body.refresh_token }, bodyTransport)).status, 401);
  } finally {
    s2.ownDir = true;
    assert.equal(await s2.stop(), 0);
  }
});
