// Federated sign-in against a misbehaving OpenID provider (lib/rogue_op.mjs):
// every way a callback can be wrong is refused with its docs/oauth.md §6 code,
// audited as oauth.login_failed, and leaves no account change. Also the
// linking policy (§4) and unlinking rules, driven over HTTP.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startRogueOp } from './lib/rogue_op.mjs';
import { startGatehouse, callbackUrl, Jar, get, start, providerRedirect, users, audit, auditUntil } from './lib/oauth.mjs';
import { uniqueEmail, goodPassword, until } from './lib/server.mjs';

let rogue;
let gh;
const PROVIDER = 'corp';

before(async () => {
  rogue = await startRogueOp({ clientId: 'gatehouse-test' });
  gh = await startGatehouse({
    providers: { [PROVIDER]: { issuer: rogue.issuer, client_id: rogue.clientId, client_secret: rogue.clientSecret, display_name: 'Corp SSO' } },
    oauth: { http_timeout_s: 2 },
  });
  rogue.redirectUris.push(callbackUrl(gh, PROVIDER));
});

after(async () => {
  await gh?.stop();
  await rogue?.stop();
});

let n = 0;
beforeEach(() => {
  rogue.reset();
  n += 1;
  rogue.user.sub = `rogue-sub-${process.pid}-${n}`;
  rogue.user.email = uniqueEmail('rogue');
  rogue.user.email_verified = true;
});

// Start at Gatehouse, let the provider redirect back, deliver the callback.
async function signIn({ jar = new Jar(), mangle } = {}) {
  const { res, providerUrl } = await start(gh, PROVIDER, jar);
  assert.equal(res.status, 303, res.text);
  let cb = await providerRedirect(providerUrl);
  if (mangle) cb = mangle(cb);
  const back = await get(cb, jar);
  return { jar, back, cb };
}

// The failure contract: status + code, an audit row, no new user, no session cookie.
async function expectRefused(run, status, code, reason) {
  const before_ = users(gh).length;
  const { back } = await run();
  assert.equal(back.status, status, back.text);
  assert.equal(back.body?.code, code, back.text);
  assert.equal(back.headers.get('cache-control'), 'no-store');
  assert.ok(!back.headers.getSetCookie().some((c) => /gh_session=[^;]/.test(c)), 'no session');
  assert.equal(users(gh).length, before_, 'no account change');
  const rows = await auditUntil(gh, ['--action', 'oauth.login_failed'], (r) => r.some((e) => e.result.includes(reason)));
  assert.ok(rows.some((e) => e.result.includes(reason)), `audit row with ${reason}: ${JSON.stringify(rows.slice(-3))}`);
}

test('a well-behaved provider: new user created, signed in, PKCE S256 + nonce + exact redirect URI sent', async () => {
  const before_ = users(gh).length;
  const { back, jar } = await signIn();
  assert.equal(back.status, 303, back.text);
  assert.equal(back.location, '/account');
  assert.ok(jar.get('__Host-gh_session'), 'a session cookie');
  assert.ok(!/code=|token/.test(back.location));
  assert.equal(users(gh).length, before_ + 1);
  const a = rogue.lastAuthorize;
  assert.equal(a.response_type, 'code');
  assert.equal(a.code_challenge_method, 'S256');
  assert.equal(a.code_challenge.length, 43);
  assert.ok(a.nonce.length >= 43);
  assert.equal(a.redirect_uri, callbackUrl(gh, PROVIDER));
  const t = rogue.lastTokenRequest;
  assert.equal(t.authMethod, 'client_secret_basic');
  assert.match(t.form.code_verifier, /^[A-Za-z0-9_-]{43}$/);
  // The session works: /v1/session names the new user, whose identity is listed.
  const ids = await get(`${gh.base}/v1/account/identities`, jar);
  assert.equal(ids.status, 200);
  assert.equal(ids.body.identities.length, 1);
  assert.equal(ids.body.identities[0].provider, PROVIDER);
  assert.equal(ids.body.identities[0].email, rogue.user.email);
  // Signing in again with the same identity reuses the user.
  const again = await signIn();
  assert.equal(again.back.status, 303);
  assert.equal(users(gh).length, before_ + 1);
});

test('state mismatch, missing state and replayed callbacks are refused', async () => {
  await expectRefused(() => signIn({ mangle: (u) => u.replace(/state=[^&]+/, 'state=forged') }), 400, 'oauth_state_invalid', 'state');
  rogue.misbehave({ authorize: 'no-state' });
  await expectRefused(() => signIn(), 400, 'oauth_state_invalid', 'no state');
  rogue.reset();
  // Replay: the same callback twice; the flow record was taken by the first.
  const first = await signIn();
  assert.equal(first.back.status, 303);
  await expectRefused(async () => ({ back: await get(first.cb, first.jar) }), 400, 'oauth_state_invalid', 'federation');
  // A callback without the browser's flow cookie (another browser, CSRF).
  const other = await start(gh, PROVIDER, new Jar());
  const cb = await providerRedirect(other.providerUrl);
  await expectRefused(async () => ({ back: await get(cb, new Jar()) }), 400, 'oauth_state_invalid', 'federation');
});

test('missing PKCE verifier: the provider refuses the code (invalid_grant)', async () => {
  // The rogue checks the verifier against the challenge; a wrong one is what a
  // missing one looks like to the token endpoint.
  rogue.misbehave({ token: 'invalid_grant' });
  await expectRefused(() => signIn(), 502, 'oauth_provider_error', 'token endpoint');
});

const idTokenCases = [
  ['wrong-nonce', 'nonce'],
  ['no-nonce', 'oauth'],
  ['other-key', 'jwt'],
  ['unknown-kid', 'jwt'],
  ['wrong-aud', 'jwt'],
  ['wrong-iss', 'jwt'],
  ['iss-trailing-slash', 'jwt'],
  ['expired', 'jwt'],
  ['iat-future', 'jwt'],
  ['too-old', 'oauth'],
  ['alg-none', 'jwt'],
  ['hs256-public-key', 'jwt'],
  ['untrusted-aud', 'oauth'],
  ['typ-at+jwt', 'oauth'],
];
for (const [mode, reason] of idTokenCases) {
  test(`ID token ${mode} → 401 oauth_invalid_id_token`, async () => {
    rogue.misbehave({ idToken: mode });
    await expectRefused(() => signIn(), 401, 'oauth_invalid_id_token', reason);
  });
}

test('issuer mix-up: iss of another issuer, or none though advertised', async () => {
  rogue.misbehave({ iss: 'mix-up' });
  await expectRefused(() => signIn(), 400, 'oauth_issuer_mismatch', 'another issuer');
  rogue.reset().misbehave({ iss: 'omit' });
  await expectRefused(() => signIn(), 400, 'oauth_issuer_mismatch', 'no iss');
});

test('denied consent at the provider', async () => {
  rogue.misbehave({ authorize: 'access_denied' });
  await expectRefused(() => signIn(), 400, 'oauth_denied', 'refused the authorization');
});

test('provider timeout: a hanging token endpoint fails within the configured timeout (2 s)', async () => {
  rogue.misbehave({ token: 'hang' });
  const t0 = Date.now();
  await expectRefused(() => signIn(), 504, 'oauth_provider_unavailable', 'could not be reached');
  const took = Date.now() - t0;
  assert.ok(took < 6000, `took ${took} ms`);
  assert.ok(took >= 1900, `took ${took} ms`);
});

test('token endpoint 500 and a non-Bearer token are provider errors', async () => {
  rogue.misbehave({ token: '500' });
  await expectRefused(() => signIn(), 502, 'oauth_provider_error', 'oauth');
  rogue.reset().misbehave({ token: 'token-type-mac' });
  await expectRefused(() => signIn(), 502, 'oauth_provider_error', 'oauth');
});

test('an HTML page for a browser, problem+json otherwise; unknown provider 404', async () => {
  const page = await get(`${gh.base}/v1/oauth/nope/start`, new Jar(), { accept: 'text/html' });
  assert.equal(page.status, 404);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(page.text, /no such sign-in option/);
  const api = await get(`${gh.base}/v1/oauth/nope/callback?code=x&state=y`, new Jar());
  assert.equal(api.status, 404);
  assert.equal(api.body.code, 'oauth_unknown_provider');
});

// ---- Linking policy (docs/oauth.md §4) ----

async function register(email) {
  const password = goodPassword();
  const r = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(r.status, 201, r.text);
  return { email, password, id: r.body.user.id };
}

async function sessionFor(email, password) {
  const jar = new Jar();
  const res = await fetch(`${gh.base}/v1/session/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  jar.store(res);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return { jar, csrf: body.csrf_token };
}

test('unverified email never links to an existing account, and creates no user', async () => {
  const victim = await register(uniqueEmail('victim'));
  rogue.user.email = victim.email;
  rogue.misbehave({ idToken: 'email-unverified' });
  await expectRefused(() => signIn(), 409, 'oauth_link_required', 'federation');
  rogue.misbehave({ idToken: 'email-verified-string' });  // "true" as a string is not verified
  await expectRefused(() => signIn(), 409, 'oauth_link_required', 'federation');
  await auditUntil(gh, ['--action', 'oauth.link_refused'], (r) => r.some((e) => e.result === 'email_unverified'));
  // A brand-new email that the provider did not verify: no account is created.
  rogue.user.email = uniqueEmail('unverified');
  rogue.misbehave({ idToken: 'email-unverified' });
  await expectRefused(() => signIn(), 403, 'oauth_email_unverified', 'confirm your email');
});

test('verified email: no automatic link unless oauth.auto_link_verified_email', async () => {
  const victim = await register(uniqueEmail('verified'));
  rogue.user.email = victim.email;
  await expectRefused(() => signIn(), 409, 'oauth_link_required', 'federation');
  const rows = await auditUntil(gh, ['--action', 'oauth.link_refused'], (r) => r.some((e) => e.result === 'auto_link_disabled'));
  assert.ok(rows.some((e) => e.result === 'auto_link_disabled'));
});

test('link from /account (step-up), then unlink; the last way in cannot be removed', async () => {
  const u = await register(uniqueEmail('linker'));
  const { jar, csrf } = await sessionFor(u.email, u.password);
  // The link form: same-origin post with the session's CSRF token.
  const link = await fetch(`${gh.base}/account/identities/link`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin: gh.base },
    body: new URLSearchParams({ csrf, provider: PROVIDER }).toString(),
  });
  jar.store(link);
  assert.equal(link.status, 303, await link.text());
  const cb = await providerRedirect(link.headers.get('location'));
  const back = await get(cb, jar);
  assert.equal(back.status, 303, back.text);
  assert.equal(back.location, '/account?notice=identity_linked');
  const ids = await get(`${gh.base}/v1/account/identities`, jar);
  assert.equal(ids.body.identities.length, 1);
  await auditUntil(gh, ['--action', 'oauth.identity_linked'], (r) => r.some((e) => e.actor === u.id));
  // Step-up for an account with a password never offers "confirm with the provider" (a provider's
  // own session may answer without asking anyone): only the password form.
  const reauth = await get(`${gh.base}/reauth`, jar);
  assert.equal(reauth.status, 200, reauth.text);
  assert.match(reauth.text, /name="password"/);
  assert.doesNotMatch(reauth.text, /Confirm with|\/v1\/oauth\//);
  // The same identity now signs in as this user.
  const viaProvider = await signIn();
  assert.equal(viaProvider.back.status, 303);
  const who = await get(`${gh.base}/v1/session`, viaProvider.jar);
  assert.equal(who.body.user_id, u.id);
  // Unlink (the user has a password): needs the CSRF header.
  const id = ids.body.identities[0].id;
  const noCsrf = await fetch(`${gh.base}/v1/account/identities/${id}`, { method: 'DELETE', headers: { cookie: jar.header() } });
  assert.equal(noCsrf.status, 403);
  const del = await fetch(`${gh.base}/v1/account/identities/${id}`, { method: 'DELETE', headers: { cookie: jar.header(), 'x-csrf-token': csrf } });
  assert.equal(del.status, 204);
  assert.equal((await get(`${gh.base}/v1/account/identities`, jar)).body.identities.length, 0);

  // A provider-only user (no password) cannot remove their only identity. The provider says the
  // person just signed in (auth_time), so the step-up passes and only the last-way-in rule refuses.
  rogue.misbehave({ claims: { auth_time: Math.floor(Date.now() / 1000) } });
  const fresh = await signIn();
  assert.equal(fresh.back.status, 303);
  const s = await get(`${gh.base}/v1/session`, fresh.jar);
  const list = await get(`${gh.base}/v1/account/identities`, fresh.jar);
  const last = await fetch(`${gh.base}/v1/account/identities/${list.body.identities[0].id}`, {
    method: 'DELETE', headers: { cookie: fresh.jar.header(), 'x-csrf-token': s.body.csrf_token },
  });
  assert.equal(last.status, 409);
  assert.equal((await last.json()).code, 'last_sign_in_method');
  assert.equal((await get(`${gh.base}/v1/account/identities`, fresh.jar)).body.identities.length, 1);
});

test('linking an identity that belongs to someone else is refused', async () => {
  const owner = await signIn();  // creates a user for rogue.user
  assert.equal(owner.back.status, 303);
  const u = await register(uniqueEmail('other'));
  const { jar, csrf } = await sessionFor(u.email, u.password);
  const link = await fetch(`${gh.base}/account/identities/link`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin: gh.base },
    body: new URLSearchParams({ csrf, provider: PROVIDER }).toString(),
  });
  jar.store(link);
  const back = await get(await providerRedirect(link.headers.get('location')), jar);
  assert.equal(back.status, 409, back.text);
  assert.equal(back.body.code, 'oauth_identity_in_use');
  assert.equal((await get(`${gh.base}/v1/account/identities`, jar)).body.identities.length, 0);
});

// ---- A second factor after a provider sign-in (issue #8 with #7) ----

test('a user with an authenticator who signs in through the provider still gets the MFA step; amr says fed', async () => {
  const { execFileSync } = await import('node:child_process');
  const totpAt = (secret, t) => execFileSync('oathtool', ['--totp', '-b', '-N', `@${t}`, secret], { encoding: 'utf8' }).trim();
  // Adding a factor needs a step-up: the provider says the person just signed in (auth_time).
  rogue.misbehave({ claims: { auth_time: Math.floor(Date.now() / 1000) } });
  const first = await signIn();
  assert.equal(first.back.status, 303, first.back.text);
  const jar = first.jar;
  // A bearer token from the session, to enrol an authenticator through the API.
  const info = await get(`${gh.base}/v1/session`, jar);
  assert.equal(info.status, 200, info.text);
  const userId = info.body.user_id;
  const logins = () => audit(gh, ['--user', userId]).filter((e) => e.action.startsWith('user.login'));
  const successes = () => logins().filter((e) => e.action === 'user.login' && e.result === 'success');
  // Without a second factor: one user.login success, written with the session, naming the identity.
  const firstRows = await until(successes, (r) => r.length === 1);
  assert.equal(firstRows.length, 1);
  assert.match(firstRows[0].subject, /^oauth:corp identity=[0-9a-f-]{36}$/);
  const tokRes = await fetch(`${gh.base}/v1/session/token`, { method: 'POST', headers: { cookie: jar.header(), 'x-csrf-token': info.body.csrf_token } });
  const tok = await tokRes.json();
  assert.equal(tokRes.status, 200, JSON.stringify(tok));
  const auth = { authorization: `Bearer ${tok.access_token}` };
  const begin = await gh.json('POST', '/v1/mfa/totp', undefined, auth);
  assert.equal(begin.status, 200, begin.text);
  const now = Math.floor(Date.now() / 1000);
  const ok = await gh.json('POST', '/v1/mfa/totp/confirm', { code: totpAt(begin.body.secret, now) }, auth);
  assert.equal(ok.status, 200, ok.text);

  // Signing in through the provider again: no session yet, a challenge instead.
  const again = await signIn();
  assert.equal(again.back.status, 303, again.back.text);
  assert.match(again.back.location, /^\/mfa\/challenge/);
  assert.ok(!again.jar.get('__Host-gh_session'), 'no session before the code');
  const mfaCookie = again.back.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_mfa='));
  assert.ok(mfaCookie, 'the challenge cookie');
  assert.match(mfaCookie, /SameSite=Lax/i, 'Lax: it must come back after a redirect chain that began at the provider');
  // Audit: the provider's answer is user.login.mfa_pending, not a success (no session exists yet).
  const pending = await until(logins, (r) => r.some((e) => e.action === 'user.login.mfa_pending'));
  const pendingRow = pending.find((e) => e.action === 'user.login.mfa_pending');
  assert.ok(pendingRow, JSON.stringify(pending));
  assert.equal(pendingRow.result, 'verify');
  assert.equal(pendingRow.subject, firstRows[0].subject);
  assert.equal(successes().length, 1, 'no user.login success while the second factor is pending');
  // The challenge page and its form.
  const page = await get(`${gh.base}/mfa/challenge`, again.jar);
  assert.equal(page.status, 200, page.text);
  const csrf = page.text.match(/name="csrf" value="([^"]+)"/)[1];
  const post = await fetch(`${gh.base}/mfa/challenge`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: again.jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin: gh.base, 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ csrf, code: totpAt(begin.body.secret, now + 30) }).toString(),
  });
  again.jar.store(post);
  assert.equal(post.status, 303, await post.text());
  assert.ok(again.jar.get('__Host-gh_session'), 'signed in after the code');
  const after2 = await until(successes, (r) => r.length === 2);
  assert.equal(after2.length, 2, 'user.login success once the session exists, after the code');
  assert.ok(after2[1].id > pendingRow.id);
  const info2 = await get(`${gh.base}/v1/session`, again.jar);
  const tok2Res = await fetch(`${gh.base}/v1/session/token`, { method: 'POST', headers: { cookie: again.jar.header(), 'x-csrf-token': info2.body.csrf_token } });
  const tok2 = await tok2Res.json();
  assert.equal(tok2Res.status, 200, JSON.stringify(tok2));
  const claims = JSON.parse(Buffer.from(tok2.access_token.split('.')[1], 'base64url').toString());
  assert.deepEqual(claims.amr, ['fed', 'otp', 'mfa']);
});

test('rate limit: federated sign-in steps per address (oauth_per_ip) answer 429 beyond the budget', async () => {
  const limited = await startGatehouse({
    providers: { [PROVIDER]: { issuer: rogue.issuer, client_id: rogue.clientId, client_secret: rogue.clientSecret } },
    env: { GATEHOUSE_RATE_LIMIT_ENABLED: 'true', GATEHOUSE_RATE_LIMIT_OAUTH_PER_IP: '3/15m' },
  });
  try {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await start(limited, PROVIDER, new Jar())).res.status);
    // The callback shares the budget: a replayed or junk callback costs the attacker too.
    const cb = await get(`${limited.base}/v1/oauth/${PROVIDER}/callback?code=junk&state=junk`, new Jar());
    assert.deepEqual(statuses, [303, 303, 303]);
    assert.equal(cb.status, 429, cb.text);
    assert.equal((await start(limited, PROVIDER, new Jar())).res.status, 429);
  } finally {
    await limited.stop();
  }
});
