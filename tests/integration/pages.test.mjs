// Hosted pages over plain HTTP (the browser end-to-end test is browser.test.mjs):
// security headers, login CSRF and session CSRF on every form, Origin and
// Sec-Fetch-Site checks, open redirects, escaping, friendly messages that never
// reveal an account, account actions, CORS, and sign-out-everywhere paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, signUp, uniqueEmail, goodPassword } from './lib/server.mjs';

const APP_ORIGIN = 'http://127.0.0.1:9';          // a configured return_to target and CORS origin
const EVIL_ORIGIN = 'http://localhost:9';

let gh;
before(async () => {
  gh = await new Server({
    env: { GATEHOUSE_WEB_RETURN_TO_ORIGINS: `${APP_ORIGIN}/app/`, GATEHOUSE_WEB_CORS_ORIGINS: APP_ORIGIN },
  }).start();
});
after(async () => { assert.equal(await gh.stop(), 0); });

const cookieOf = (res, name) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const pair = (setCookie) => setCookie.split(';')[0];
const hidden = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];

// GET a form page; returns its form cookie and CSRF token.
async function formPage(path, headers = {}) {
  const res = await fetch(gh.url(path), { headers, redirect: 'manual' });
  const html = await res.text();
  const c = cookieOf(res, '__Host-gh_form');
  return { res, html, formCookie: c && pair(c), csrf: hidden(html, 'csrf'), returnTo: hidden(html, 'return_to') };
}

async function post(path, fields, headers = {}) {
  const res = await fetch(gh.url(path), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gh.base, 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { res, html: await res.text() };
}

// Signs in through the hosted login form; returns the session cookie pair.
async function formSignIn(email, password, returnTo = '') {
  const page = await formPage(`/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`);
  const { res } = await post('/login', { csrf: page.csrf, return_to: page.returnTo ?? '', email, password }, { cookie: page.formCookie });
  assert.equal(res.status, 303);
  const c = cookieOf(res, '__Host-gh_session');
  assert.ok(c, 'a session cookie is set');
  return { cookie: pair(c), location: res.headers.get('location'), setCookie: c };
}

async function accountPage(cookie) {
  const res = await fetch(gh.url('/account'), { headers: { cookie }, redirect: 'manual' });
  return { res, html: await res.text() };
}

test('pages carry a strict CSP and the browser security headers; the stylesheet is served', async () => {
  for (const path of ['/login', '/register', '/logout']) {
    const res = await fetch(gh.url(path));
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type'), /^text\/html; charset=utf-8/);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /form-action 'self' http:\/\/127\.0\.0\.1:9(;|$)/);
    assert.ok(!/script-src|unsafe-inline|unsafe-eval/.test(csp), csp);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'same-origin');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const html = await res.text();
    assert.ok(!/<script|\sstyle=|\son[a-z]+=/i.test(html), `${path} has no script, inline style or handler`);
  }
  const css = await fetch(gh.url('/assets/gatehouse.css'));
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type'), /^text\/css/);
  assert.match(await css.text(), /\.card/);
});

test('HSTS on pages when the public URL is https, not otherwise', async () => {
  assert.equal((await fetch(gh.url('/login'))).headers.get('strict-transport-security'), null);
  const tls = await new Server({ env: { GATEHOUSE_PUBLIC_URL: 'https://auth.example.test' } }).start();
  try {
    const res = await fetch(tls.url('/login'));
    assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
  } finally {
    assert.equal(await tls.stop(), 0);
  }
});

test('the form cookie is HttpOnly, Secure, SameSite=Strict and the token is bound to it', async () => {
  const page = await formPage('/login');
  const set = (await fetch(gh.url('/login'))).headers.getSetCookie().find((c) => c.startsWith('__Host-gh_form='));
  assert.match(set, /^__Host-gh_form=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict$/);
  assert.ok(page.csrf.length >= 43);
  // The same browser reloading the page keeps its nonce (two tabs both work).
  const again = await formPage('/login', { cookie: page.formCookie });
  assert.equal(again.csrf, page.csrf);
});

test('login CSRF: a sign-in post without a valid form token, or from another site, is refused', async () => {
  const { email, password } = await signUp(gh);
  const page = await formPage('/login');
  const other = await formPage('/login');
  const attempts = [
    [{ email, password }, { cookie: page.formCookie }],                                    // no token
    [{ email, password, csrf: page.csrf }, {}],                                              // no cookie
    [{ email, password, csrf: other.csrf }, { cookie: page.formCookie }],                  // another browser's token
    [{ email, password, csrf: page.csrf.slice(0, -2) + 'AA' }, { cookie: page.formCookie }],
    [{ email, password, csrf: page.csrf }, { cookie: page.formCookie, origin: EVIL_ORIGIN }],
    [{ email, password, csrf: page.csrf }, { cookie: page.formCookie, 'sec-fetch-site': 'cross-site' }],
    [{ email, password, csrf: page.csrf }, { cookie: page.formCookie, 'sec-fetch-site': 'same-site' }],
  ];
  for (const [fields, headers] of attempts) {
    const { res, html } = await post('/login', fields, headers);
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.equal(cookieOf(res, '__Host-gh_session'), undefined, 'no session for a forged post');
    assert.match(html, /expired or was not sent from this site/);
  }
  // The real form works.
  const ok = await post('/login', { email, password, csrf: page.csrf }, { cookie: page.formCookie });
  assert.equal(ok.res.status, 303);
});

test('a form must be urlencoded and well-formed; duplicate fields are refused', async () => {
  const page = await formPage('/login');
  const json = await fetch(gh.url('/login'), {
    method: 'POST', headers: { 'content-type': 'application/json', cookie: page.formCookie }, body: '{}',
  });
  assert.equal(json.status, 415);
  const dup = await fetch(gh.url('/login'), {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: page.formCookie },
    body: `csrf=${page.csrf}&email=a%40b.example&password=x&return_to=%2F&return_to=https%3A%2F%2Fevil.example`,
  });
  assert.equal(dup.status, 400);
  const bad = await fetch(gh.url('/login'), {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: page.formCookie }, body: 'csrf=%zz',
  });
  assert.equal(bad.status, 400);
});

test('wrong password and unknown email get the same friendly answer', async () => {
  const { email } = await signUp(gh);
  const page = await formPage('/login');
  const wrong = await post('/login', { email, password: 'not the password at all', csrf: page.csrf }, { cookie: page.formCookie });
  const unknown = await post('/login', { email: uniqueEmail('nobody'), password: 'not the password at all', csrf: page.csrf },
    { cookie: page.formCookie });
  assert.equal(wrong.res.status, 401);
  assert.equal(unknown.res.status, 401);
  const message = (html) => html.match(/<p class="error"[^>]*>([^<]*)</)[1];
  assert.equal(message(wrong.html), message(unknown.html));
  assert.match(message(wrong.html), /email or password is not right/);
});

test('sign in through the form lands on the account page; the page escapes what users typed', async () => {
  const email = uniqueEmail('pages');
  const password = goodPassword('pages');
  const name = '<script>alert("x")</script> & Co';
  const reg = await formPage('/register');
  const created = await post('/register', { email, password, name, csrf: reg.csrf }, { cookie: reg.formCookie });
  assert.equal(created.res.status, 303);
  assert.equal(created.res.headers.get('location'), '/account');
  const { cookie, location, setCookie } = await formSignIn(email, password);
  assert.equal(location, '/account');
  assert.match(setCookie, /; Secure; HttpOnly; SameSite=Lax$/);
  const { res, html } = await accountPage(cookie);
  assert.equal(res.status, 200);
  assert.ok(html.includes(email));
  assert.ok(!html.includes('<script>'), 'user input is escaped');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co'));
  assert.match(html, /This device/);
});

test('registration never says that an email is taken; policy errors are explained', async () => {
  const { email } = await signUp(gh);
  const page = await formPage('/register');
  const taken = await post('/register', { email, password: goodPassword('other'), csrf: page.csrf }, { cookie: page.formCookie });
  assert.equal(taken.res.status, 400);
  assert.ok(!/taken|exists|already registered/i.test(taken.html.replace(/If you already have an account, sign in instead/, '')));
  assert.equal(cookieOf(taken.res, '__Host-gh_session'), undefined);
  const weak = await post('/register', { email: uniqueEmail('weak'), password: 'password', csrf: page.csrf }, { cookie: page.formCookie });
  assert.equal(weak.res.status, 400);
  // The policy's own explanation, intact (a dangling view once leaked heap bytes here).
  const line = weak.html.match(/<p class="error"[^>]*>([^<]*)</)[1];
  assert.match(line, /^[\x20-\x7e]+$/, JSON.stringify(line));
  assert.match(line, /common|guess|characters|dictionary/i);
});

test('return_to: own paths and configured targets are honoured; everything else falls back to /account', async () => {
  const { email, password } = await signUp(gh);
  const good = [
    ['/account?tab=sessions', '/account?tab=sessions'],
    [`${APP_ORIGIN}/app/report?id=7`, `${APP_ORIGIN}/app/report?id=7`],
    [`${gh.base}/account`, `${gh.base}/account`],
  ];
  for (const [candidate, expected] of good) {
    const { location } = await formSignIn(email, password, candidate);
    assert.equal(location, expected, candidate);
  }
  const evil = ['https://evil.example/', '//evil.example/x', '/\\evil.example', `${APP_ORIGIN}/other/`,
    `${APP_ORIGIN}/app/../admin`, `${APP_ORIGIN}@evil.example/app/`, 'javascript:alert(1)', `${EVIL_ORIGIN}/app/`];
  for (const candidate of evil) {
    const page = await formPage(`/login?return_to=${encodeURIComponent(candidate)}`);
    assert.equal(page.returnTo, '', `the form drops ${candidate}`);
    // Posting it directly (a tampered hidden field) is checked again.
    const { res } = await post('/login', { email, password, csrf: page.csrf, return_to: candidate }, { cookie: page.formCookie });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/account', candidate);
  }
});

test('signed-in forms need the session CSRF token and our Origin; logout ends the session', async () => {
  const { email, password } = await signUp(gh);
  const { cookie } = await formSignIn(email, password);
  const { html } = await accountPage(cookie);
  const csrf = hidden(html, 'csrf');
  assert.ok(csrf);
  // Forged sign-out attempts change nothing.
  for (const [fields, headers] of [
    [{}, { cookie }],
    [{ csrf: 'x'.repeat(43) }, { cookie }],
    [{ csrf }, { cookie, origin: EVIL_ORIGIN }],
    [{ csrf }, { cookie, 'sec-fetch-site': 'cross-site' }],
  ]) {
    const r = await post('/logout', fields, headers);
    assert.equal(r.res.status, 403);
    assert.equal((await accountPage(cookie)).res.status, 200, 'still signed in');
  }
  const out = await post('/logout', { csrf }, { cookie });
  assert.equal(out.res.status, 303);
  assert.equal(out.res.headers.get('location'), '/login?notice=signed_out');
  assert.match(cookieOf(out.res, '__Host-gh_session'), /Max-Age=0/);
  // The stolen cookie is dead after logout.
  const after = await accountPage(cookie);
  assert.equal(after.res.status, 303);
  assert.equal(after.res.headers.get('location'), '/login?return_to=%2Faccount');
  assert.equal((await fetch(gh.url('/v1/forward-auth'), { headers: { cookie } })).status, 401);
});

test('account: revoke one device, sign out all others, change password', async () => {
  const { email, password } = await signUp(gh);
  const a = await formSignIn(email, password);
  const b = await formSignIn(email, password);
  const c = await formSignIn(email, password);
  let page = await accountPage(a.cookie);
  const csrf = hidden(page.html, 'csrf');
  const ids = [...page.html.matchAll(/data-session="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(ids.length, 3);
  // Revoke one other device (the first non-current row).
  const row = page.html.split('<tr data-session=').slice(1).find((r) => !r.includes('This device'));
  const victim = row.match(/^"([^"]+)"/)[1];
  const r1 = await post('/account/sessions/revoke', { csrf, id: victim }, { cookie: a.cookie });
  assert.equal(r1.res.status, 303);
  const alive = [b, c].map(async (s) => (await accountPage(s.cookie)).res.status);
  assert.deepEqual((await Promise.all(alive)).sort(), [200, 303]);
  // Someone else's session id cannot be revoked (IDOR).
  const stranger = await signUp(gh);
  const s = await formSignIn(stranger.email, stranger.password);
  const strangerPage = await accountPage(s.cookie);
  const strangerId = strangerPage.html.match(/data-session="([^"]+)"/)[1];
  const idor = await post('/account/sessions/revoke', { csrf, id: strangerId }, { cookie: a.cookie });
  assert.equal(idor.res.status, 404);
  assert.equal((await accountPage(s.cookie)).res.status, 200);
  // Sign out every other device.
  const r2 = await post('/account/sessions/revoke-others', { csrf }, { cookie: a.cookie });
  assert.equal(r2.res.status, 303);
  assert.equal((await accountPage(b.cookie)).res.status, 303);
  assert.equal((await accountPage(c.cookie)).res.status, 303);
  page = await accountPage(a.cookie);
  assert.equal([...page.html.matchAll(/data-session=/g)].length, 1);
  // Change password: a wrong current password changes nothing.
  const d = await formSignIn(email, password);
  const wrong = await post('/account/password', { csrf, current_password: 'wrong wrong wrong', new_password: goodPassword('n1') },
    { cookie: a.cookie });
  assert.equal(wrong.res.status, 400);
  assert.match(wrong.html, /current password is not right/);
  assert.equal((await accountPage(d.cookie)).res.status, 200);
  const next = goodPassword('next');
  const changed = await post('/account/password', { csrf, current_password: password, new_password: next }, { cookie: a.cookie });
  assert.equal(changed.res.status, 303);
  assert.equal(changed.res.headers.get('location'), '/account?notice=password_changed');
  const renewed = pair(cookieOf(changed.res, '__Host-gh_session'));
  assert.notEqual(renewed, a.cookie, 'the device that changed it gets a new session id');
  assert.equal((await accountPage(renewed)).res.status, 200, 'and stays signed in');
  assert.equal((await accountPage(a.cookie)).res.status, 303, 'a copy of its old cookie is dead');
  assert.equal((await accountPage(d.cookie)).res.status, 303, 'every other device is signed out');
  await formSignIn(email, next);
});

test('JSON logout/all and password change end browser sessions too', async () => {
  const { email, password, res } = await signUp(gh);
  const browser = await formSignIn(email, password);
  const all = await gh.json('POST', '/v1/logout/all', '', { authorization: `Bearer ${res.body.access_token}` });
  assert.equal(all.status, 204);
  assert.equal((await accountPage(browser.cookie)).res.status, 303);

  const again = await formSignIn(email, password);
  const login = await gh.json('POST', '/v1/login', { email, password }, { 'token-transport': 'body' });
  const change = await gh.json('POST', '/v1/password/change', { current_password: password, new_password: goodPassword('api') },
    { authorization: `Bearer ${login.body.access_token}` });
  assert.equal(change.status, 200, change.text);
  assert.equal((await accountPage(again.cookie)).res.status, 303);
});

test('a planted session cookie is replaced at sign-in through the form', async () => {
  const { email, password } = await signUp(gh);
  const planted = '__Host-gh_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const page = await formPage('/login');
  const { res } = await post('/login', { email, password, csrf: page.csrf }, { cookie: `${page.formCookie}; ${planted}` });
  assert.equal(res.status, 303);
  const issued = pair(cookieOf(res, '__Host-gh_session'));
  assert.notEqual(issued, planted);
  assert.equal((await accountPage(planted)).res.status, 303);
  assert.equal((await accountPage(issued)).res.status, 200);
  // Signing in again from this signed-in browser ends its previous session.
  const page2 = await formPage('/login');
  const again = await post('/login', { email, password, csrf: page2.csrf }, { cookie: `${page2.formCookie}; ${issued}` });
  assert.equal(again.res.status, 303);
  const next = pair(cookieOf(again.res, '__Host-gh_session'));
  assert.notEqual(next, issued);
  assert.equal((await accountPage(issued)).res.status, 303, 'the previous session ended');
  assert.equal((await accountPage(next)).res.status, 200);
});

test('CORS: only configured origins, with credentials, never *; preflight answered', async () => {
  const pre = await fetch(gh.url('/v1/session'), {
    method: 'OPTIONS', headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-csrf-token' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), APP_ORIGIN);
  assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
  assert.match(pre.headers.get('access-control-allow-headers'), /X-CSRF-Token/);
  assert.match(pre.headers.get('vary'), /Origin/);
  const evilPre = await fetch(gh.url('/v1/session'), {
    method: 'OPTIONS', headers: { origin: EVIL_ORIGIN, 'access-control-request-method': 'POST' },
  });
  assert.equal(evilPre.status, 403);
  assert.equal(evilPre.headers.get('access-control-allow-origin'), null);
  assert.equal((await evilPre.json()).code, 'cors_refused');

  const { email, password } = await signUp(gh);
  const { cookie } = await formSignIn(email, password);
  const allowed = await fetch(gh.url('/v1/session'), { headers: { origin: APP_ORIGIN, cookie } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), APP_ORIGIN);
  assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
  assert.match(allowed.headers.get('vary'), /Origin/);
  const evil = await fetch(gh.url('/v1/session'), { headers: { origin: EVIL_ORIGIN, cookie } });
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  assert.equal(evil.headers.get('access-control-allow-credentials'), null);
  // A configured CORS origin may also make CSRF-protected calls (with the token).
  const info = await allowed.json();
  const tok = await fetch(gh.url('/v1/session/token'), {
    method: 'POST', headers: { origin: APP_ORIGIN, cookie, 'x-csrf-token': info.csrf_token },
  });
  assert.equal(tok.status, 200);
  const evilTok = await fetch(gh.url('/v1/session/token'), {
    method: 'POST', headers: { origin: EVIL_ORIGIN, cookie, 'x-csrf-token': info.csrf_token },
  });
  assert.equal(evilTok.status, 403);
  // Public discovery documents are readable from anywhere, without credentials.
  const jwks = await fetch(gh.url('/.well-known/jwks.json'), { headers: { origin: EVIL_ORIGIN } });
  assert.equal(jwks.headers.get('access-control-allow-origin'), '*');
  assert.equal(jwks.headers.get('access-control-allow-credentials'), null);
});

test('invalid web settings are refused at start with the setting named', async () => {
  for (const [key, value] of [['GATEHOUSE_WEB_RETURN_TO_ORIGINS', 'not a url'], ['GATEHOUSE_WEB_CORS_ORIGINS', 'https://a.example/path']]) {
    const bad = new Server({ env: { [key]: value } });
    await assert.rejects(bad.start(), /web\.(return_to|cors)_origins/);
    await bad.stop();
  }
});
