// Browser sessions over the JSON API and forward-auth: cookie attributes,
// fixation, CSRF, Origin, listing and revoking, stolen cookie after logout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Server, signUp } from './lib/server.mjs';

let gh;
before(async () => { gh = await new Server().start(); });
after(async () => { assert.equal(await gh.stop(), 0); });

async function signIn(email, password, extraHeaders = {}) {
  const r = await gh.json('POST', '/v1/session/login', { email, password }, extraHeaders);
  assert.equal(r.status, 200, r.text);
  const setCookie = r.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_session='));
  return { r, setCookie, cookie: setCookie.split(';')[0], csrf: r.body.csrf_token };
}

test('session login sets a __Host- cookie with the right attributes', async () => {
  const { email, password } = await signUp(gh);
  const { r, setCookie } = await signIn(email, password);
  assert.match(setCookie, /^__Host-gh_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Lax$/);
  assert.ok(!/Domain=/i.test(setCookie));
  assert.ok(r.body.csrf_token.length >= 43);
  assert.equal(r.body.user.email, email);
});

test('forward-auth: 200 with identity headers for a session or bearer, 401 otherwise', async () => {
  const { email, password, res } = await signUp(gh);
  const { cookie } = await signIn(email, password);
  const ok = await fetch(gh.url('/v1/forward-auth'), { headers: { cookie } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-auth-user-id'), res.body.user.id);
  assert.equal(ok.headers.get('x-auth-email'), email);
  const viaBearer = await fetch(gh.url('/v1/forward-auth'), { headers: { authorization: `Bearer ${res.body.access_token}` } });
  assert.equal(viaBearer.status, 200);
  assert.equal((await fetch(gh.url('/v1/forward-auth'))).status, 401);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie: '__Host-gh_session=forged' } })).status, 401);
  // A client cannot inject identity headers of its own: they are computed, not copied.
  const spoof = await fetch(gh.url('/v1/forward-auth'), { headers: { 'x-auth-user-id': 'admin' } });
  assert.equal(spoof.status, 401);
});

test('forward-auth 401 names the sign-in page, returning to the proxied URL only when it is ours', async () => {
  const original = `${gh.base}/reports?id=7&sort=desc`;
  const r = await fetch(gh.url('/v1/forward-auth'), { headers: { 'x-original-url': original } });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('location'), `${gh.base}/login?return_to=${encodeURIComponent(original)}`);
  const evil = await fetch(gh.url('/v1/forward-auth'), { headers: { 'x-original-url': 'https://evil.example/x' } });
  assert.equal(evil.status, 401);
  assert.equal(evil.headers.get('location'), `${gh.base}/login`);
  const none = await fetch(gh.url('/v1/forward-auth'), { headers: { authorization: 'Bearer nope', 'x-original-url': original } });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('location'), /\/login\?return_to=/);
});

test('session fixation: a planted session id is never adopted; sign-in always issues a new one', async () => {
  const { email, password } = await signUp(gh);
  const planted = '__Host-gh_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const { cookie } = await signIn(email, password, { cookie: planted });
  assert.notEqual(cookie, planted);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie: planted } })).status, 401);
  // Signing in again from a signed-in browser also rotates the id.
  const again = await signIn(email, password, { cookie });
  assert.notEqual(again.cookie, cookie);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie } })).status, 401, 'the previous session ended');
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie: again.cookie } })).status, 200);
});

test('state changes need the session CSRF token and our Origin', async () => {
  const { email, password } = await signUp(gh);
  const { cookie, csrf } = await signIn(email, password);
  const noToken = await gh.json('POST', '/v1/session/token', '', { cookie });
  assert.equal(noToken.status, 403);
  assert.equal(noToken.body.code, 'csrf_failed');
  const wrongToken = await gh.json('POST', '/v1/session/token', '', { cookie, 'x-csrf-token': csrf.slice(0, -2) + 'AA' });
  assert.equal(wrongToken.status, 403);
  const crossOrigin = await gh.json('POST', '/v1/session/token', '', { cookie, 'x-csrf-token': csrf, origin: 'http://127.0.0.2:9' });
  assert.equal(crossOrigin.status, 403);
  const ok = await gh.json('POST', '/v1/session/token', '', { cookie, 'x-csrf-token': csrf, origin: gh.base });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.refresh_token, undefined, 'a browser front end never gets a refresh token');
  const me = await gh.json('GET', '/v1/me', undefined, { authorization: `Bearer ${ok.body.access_token}` });
  assert.equal(me.status, 200);
  // Another session's CSRF token does not work for this one.
  const other = await signIn(email, password);
  assert.equal((await gh.json('POST', '/v1/session/token', '', { cookie, 'x-csrf-token': other.csrf })).status, 403);
  // Login from another origin is refused (login CSRF).
  const evilLogin = await gh.json('POST', '/v1/session/login', { email, password }, { origin: 'http://evil.test' });
  assert.equal(evilLogin.status, 403);
});

test('list sessions and revoke another device; the revoked cookie stops working', async () => {
  const { email, password } = await signUp(gh);
  const a = await signIn(email, password, { 'user-agent': 'device-a' });
  const b = await signIn(email, password, { 'user-agent': 'device-b' });
  const list = await gh.json('GET', '/v1/sessions', undefined, { cookie: a.cookie });
  assert.equal(list.status, 200);
  assert.equal(list.body.sessions.length, 2);
  const mine = list.body.sessions.find((s) => s.current);
  const theirs = list.body.sessions.find((s) => !s.current);
  assert.equal(mine.user_agent, 'device-a');
  assert.equal(theirs.user_agent, 'device-b');
  assert.equal((await gh.json('DELETE', `/v1/sessions/${theirs.id}`, undefined, { cookie: a.cookie })).status, 403, 'CSRF needed');
  assert.equal((await gh.json('DELETE', `/v1/sessions/${theirs.id}`, undefined, { cookie: a.cookie, 'x-csrf-token': a.csrf })).status, 204);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie: b.cookie } })).status, 401);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie: a.cookie } })).status, 200);
  // Another user cannot revoke it by id (IDOR): same 404 as a missing one.
  const other = await signUp(gh);
  const o = await signIn(other.email, other.password);
  assert.equal((await gh.json('DELETE', `/v1/sessions/${mine.id}`, undefined, { cookie: o.cookie, 'x-csrf-token': o.csrf })).status, 404);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie: a.cookie } })).status, 200);
});

test('logout destroys the session server-side: a stolen cookie is dead afterwards', async () => {
  const { email, password } = await signUp(gh);
  const { cookie, csrf } = await signIn(email, password);
  const out = await gh.json('POST', '/v1/session/logout', '', { cookie, 'x-csrf-token': csrf });
  assert.equal(out.status, 204);
  assert.match(out.headers.getSetCookie()[0], /^__Host-gh_session=; Path=\/; Max-Age=0/);
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie } })).status, 401);
  assert.equal((await gh.json('GET', '/v1/session', undefined, { cookie })).status, 401);
});

test('a server restart (SQLite) keeps valid sessions valid and ended ones ended', async () => {
  const own = await new Server().start();
  const { email, password } = await signUp(own);
  const login = async () => {
    const r = await own.json('POST', '/v1/session/login', { email, password });
    assert.equal(r.status, 200, r.text);
    return { cookie: r.headers.getSetCookie()[0].split(';')[0], csrf: r.body.csrf_token };
  };
  const kept = await login();
  const ended = await login();
  assert.equal((await own.json('POST', '/v1/session/logout', '', { cookie: ended.cookie, 'x-csrf-token': ended.csrf })).status, 204);
  assert.equal(await own.stop({ keepData: true }), 0);
  const again = await new Server({ dataDir: own.dataDir }).start();
  try {
    assert.equal((await fetch(again.url('/v1/forward-auth'), { headers: { cookie: kept.cookie } })).status, 200);
    assert.equal((await fetch(again.url('/v1/forward-auth'), { headers: { cookie: ended.cookie } })).status, 401);
  } finally {
    assert.equal(await again.stop(), 0);
    rmSync(own.dataDir, { recursive: true, force: true });
  }
});
