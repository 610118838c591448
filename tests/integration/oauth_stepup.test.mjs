// Step-up (recent re-authentication) and federated identities, with a server
// clock the test moves (libfaketime reading a file): an account without a
// password confirms it is them through its OpenID provider only when the
// provider really asked again (ID token auth_time from after the flow
// started); linking and unlinking with an expired step-up window change nothing.
// An ordinary provider sign-in (browser or native) is only as recent as the
// provider says (auth_time), so a provider's silent answer from its own session
// is no step-up.
// The provider is lib/rogue_op.mjs, told which auth_time (and iat/exp, in the
// server's shifted time) to put in the ID token.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRogueOp } from './lib/rogue_op.mjs';
import { startGatehouse, callbackUrl, Jar, get, start, providerRedirect, audit, auditUntil } from './lib/oauth.mjs';
import { uniqueEmail, goodPassword } from './lib/server.mjs';
import { createHash, randomBytes } from 'node:crypto';

const PROVIDER = 'corp';
const SHIFT_S = 11 * 60;  // past the default step-up window (authz.reauth_window_s = 600)
const WINDOW_S = 600;
const APP = 'http://127.0.0.1:9/app/callback';  // a native app's registered URI (never fetched)
let rogue;
let gh;
let clockDir;
let clockFile;
let shift = 0;

// Moves the server's clock to real time + `s` seconds (libfaketime re-reads the file).
function setClock(s) {
  shift = s;
  writeFileSync(clockFile, `+${s}\n`);
}
const serverNow = () => Math.floor(Date.now() / 1000) + shift;

before(async () => {
  clockDir = mkdtempSync(join(tmpdir(), 'gh-clock-'));
  clockFile = join(clockDir, 'faketime');
  setClock(0);
  rogue = await startRogueOp({ clientId: 'gatehouse-test' });
  gh = await startGatehouse({
    providers: { [PROVIDER]: { issuer: rogue.issuer, client_id: rogue.clientId, client_secret: rogue.clientSecret, display_name: 'Corp SSO' } },
    oauth: { native_redirect_uris: APP },
    faketimeFile: clockFile,
  });
  rogue.redirectUris.push(callbackUrl(gh, PROVIDER));
});

after(async () => {
  await gh?.stop();
  await rogue?.stop();
  if (clockDir) rmSync(clockDir, { recursive: true, force: true });
});

let n = 0;
beforeEach(() => {
  setClock(0);
  rogue.reset();
  n += 1;
  rogue.user.sub = `stepup-sub-${process.pid}-${n}`;
  rogue.user.email = uniqueEmail('stepup');
  rogue.user.email_verified = true;
});

// ID-token times in the server's (shifted) clock, plus the auth_time under test (omitted if undefined).
function tokenTimes(authTime) {
  const now = serverNow();
  return { iat: now, exp: now + 300, ...(authTime === undefined ? {} : { auth_time: authTime }) };
}

async function signIn(jar = new Jar()) {
  const { res, providerUrl } = await start(gh, PROVIDER, jar);
  assert.equal(res.status, 303, res.text);
  const back = await get(await providerRedirect(providerUrl), jar);
  assert.equal(back.status, 303, back.text);
  return jar;
}

async function postForm(path, jar, fields) {
  const res = await fetch(`${gh.base}${path}`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin: gh.base },
    body: new URLSearchParams(fields).toString(),
  });
  jar.store(res);
  return { status: res.status, location: res.headers.get('location'), text: await res.text(), headers: res.headers };
}

const session = async (jar) => (await get(`${gh.base}/v1/session`, jar)).body;
const identities = async (jar) => (await get(`${gh.base}/v1/account/identities`, jar)).body.identities;
const del = (jar, csrf, id) => fetch(`${gh.base}/v1/account/identities/${id}`, {
  method: 'DELETE', headers: { cookie: jar.header(), 'x-csrf-token': csrf, origin: gh.base },
});

// POST /reauth/provider, then the provider's answer delivered to the callback.
async function reauthViaProvider(jar, csrf) {
  const go = await postForm('/reauth/provider', jar, { csrf, provider: PROVIDER, return_to: '/account' });
  assert.equal(go.status, 303, go.text);
  assert.ok(go.location.startsWith(rogue.issuer), go.location);
  const cb = await providerRedirect(go.location);
  // OpenID Connect Core §3.1.2.1: the provider must ask again and report auth_time.
  assert.equal(rogue.lastAuthorize.prompt, 'login');
  assert.equal(rogue.lastAuthorize.max_age, '0');
  return get(cb, jar, { accept: 'application/json' });
}

// A native app's PKCE pair (RFC 7636, S256).
function newPkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

// The payload of a JWT (no verification: the test only reads what Gatehouse wrote).
const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

test('an ordinary provider sign-in without auth_time, or with an old one, is no step-up; a fresh one is', async () => {
  const cases = [
    ['no auth_time in the ID token', undefined],
    ['auth_time an hour ago (the provider answered from its own session)', serverNow() - 3600],
  ];
  let userId;
  let identityId;
  for (const [what, authTime] of cases) {
    rogue.misbehave({ claims: tokenTimes(authTime) });
    const jar = await signIn();  // a password-less user, signed in at the provider long ago
    const s = await session(jar);
    userId ??= s.user_id;
    assert.equal(s.user_id, userId, what);
    const ids = await identities(jar);
    assert.equal(ids.length, 1, what);
    identityId = ids[0].id;
    const startsBefore = audit(gh, ['--user', userId, '--action', 'oauth.start']).length;

    // Unlinking through the API: step-up required, nothing removed.
    const api = await del(jar, s.csrf_token, identityId);
    assert.equal(api.status, 401, what);
    assert.equal((await api.json()).code, 'reauthentication_required', what);
    // Linking another identity: the step-up page (confirm with the provider), not the provider.
    const link = await postForm('/account/identities/link', jar, { csrf: s.csrf_token, provider: PROVIDER });
    assert.equal(link.status, 200, `${what}: ${link.text}`);
    assert.equal(link.location, null, what);
    assert.match(link.text, /action="\/reauth\/provider"/, what);
    assert.equal(audit(gh, ['--user', userId, '--action', 'oauth.start']).length, startsBefore, `${what}: no link flow started`);
    // Adding a second factor through a token from this session: step-up required too.
    const tok = await fetch(`${gh.base}/v1/session/token`, { method: 'POST', headers: { cookie: jar.header(), 'x-csrf-token': s.csrf_token, origin: gh.base } });
    assert.equal(tok.status, 200, what);
    const { access_token: at } = await tok.json();
    const mfa = await gh.json('POST', '/v1/mfa/totp', undefined, { authorization: `Bearer ${at}` });
    assert.equal(mfa.status, 401, `${what}: ${mfa.text}`);
    assert.equal(mfa.body.code, 'reauthentication_required', what);

    assert.deepEqual((await identities(jar)).map((i) => i.id), [identityId], `${what}: the identity stays`);
  }
  assert.ok(!audit(gh, ['--user', userId, '--action', 'oauth.identity_unlinked']).length, 'no unlink attempted past the step-up');

  // A sign-in the provider dates a few seconds ago: within the window, step-up passes.
  rogue.misbehave({ claims: tokenTimes(serverNow() - 5) });
  const jar = await signIn();
  const s = await session(jar);
  assert.equal(s.user_id, userId);
  const last = await del(jar, s.csrf_token, identityId);
  assert.equal(last.status, 409, 'past step-up: refused only because it is the last way in');
  assert.equal((await last.json()).code, 'last_sign_in_method');
  const link = await postForm('/account/identities/link', jar, { csrf: s.csrf_token, provider: PROVIDER });
  assert.equal(link.status, 303, link.text);
  assert.ok(link.location.startsWith(rogue.issuer), link.location);
});

test('native: the tokens carry the provider\'s auth_time, and none without one is recent', async () => {
  async function nativeTokens() {
    const pkce = newPkce();
    const jar = new Jar();
    const q = new URLSearchParams({ mode: 'native', return_to: APP, code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    const { res, providerUrl } = await start(gh, PROVIDER, jar, q.toString());
    assert.equal(res.status, 303, res.text);
    const cb = await get(await providerRedirect(providerUrl), jar);
    assert.equal(cb.status, 303, cb.text);
    const code = new URL(cb.location).searchParams.get('code');
    const ok = await gh.json('POST', '/v1/oauth/token', { code, redirect_uri: APP, code_verifier: pkce.verifier }, { 'token-transport': 'body' });
    assert.equal(ok.status, 200, ok.text);
    return ok.body;
  }
  const signedInAt = serverNow() - 90;
  rogue.misbehave({ claims: tokenTimes(signedInAt) });
  const dated = await nativeTokens();
  assert.equal(payloadOf(dated.access_token).auth_time, signedInAt, 'the provider\'s auth_time, not the redemption time');
  const begin = await gh.json('POST', '/v1/mfa/totp', undefined, { authorization: `Bearer ${dated.access_token}` });
  assert.equal(begin.status, 200, `90 s ago is within the step-up window: ${begin.text}`);

  // Another person, whose provider does not say when they signed in.
  rogue.user.sub = `${rogue.user.sub}-undated`;
  rogue.user.email = uniqueEmail('undated');
  rogue.reset().misbehave({ claims: tokenTimes(undefined) });
  const before_ = serverNow();
  const undated = await nativeTokens();
  const claimed = payloadOf(undated.access_token).auth_time;
  assert.ok(claimed < before_ - WINDOW_S && claimed >= before_ - WINDOW_S - 5, `just outside the window: ${claimed} vs ${before_}`);
  const refused = await gh.json('POST', '/v1/mfa/totp', undefined, { authorization: `Bearer ${undated.access_token}` });
  assert.equal(refused.status, 401, refused.text);
  assert.equal(refused.body.code, 'reauthentication_required');
  // The refresh family still works (auth_time is not zero or epoch).
  const rotated = await gh.json('POST', '/v1/token/refresh', { refresh_token: undated.refresh_token }, { 'token-transport': 'body' });
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(payloadOf(rotated.body.access_token).auth_time, claimed, 'rotation keeps the sign-in\'s auth_time');
});

test('provider step-up: auth_time missing or older than the flow is refused and grants nothing; a fresh one does', async () => {
  const jar = await signIn();  // a password-less user, signed in through the provider
  const s0 = await session(jar);
  const [identity] = await identities(jar);
  const sessionCookie = jar.get('__Host-gh_session');

  setClock(SHIFT_S);  // the sign-in is now older than the step-up window
  const stale = await del(jar, s0.csrf_token, identity.id);
  assert.equal(stale.status, 401);
  assert.equal((await stale.json()).code, 'reauthentication_required');

  // The step-up page offers the provider as a form (POST + CSRF), not the password.
  const page = await get(`${gh.base}/reauth`, jar);
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /action="\/reauth\/provider"/);
  assert.match(page.text, /Confirm with Corp SSO/);
  assert.doesNotMatch(page.text, /name="password"/);

  const refusals = [
    ['no auth_time in the ID token', undefined, 'auth_time_missing'],
    ['auth_time an hour before the flow started', serverNow() - 3600, 'auth_time_stale'],
    ['auth_time just outside the leeway (60 s)', serverNow() - 120, 'auth_time_stale'],
  ];
  for (const [what, authTime, reason] of refusals) {
    rogue.misbehave({ claims: tokenTimes(authTime) });
    const back = await reauthViaProvider(jar, s0.csrf_token);
    assert.equal(back.status, 401, `${what}: ${back.text}`);
    assert.equal(back.body.code, 'oauth_reauth_not_fresh', what);
    assert.ok(!back.headers.getSetCookie().some((c) => /gh_session=[^;]/.test(c)), `${what}: no new session`);
    assert.equal(jar.get('__Host-gh_session'), sessionCookie, `${what}: the same session`);
    const rows = await auditUntil(gh, ['--user', s0.user_id, '--action', 'user.reauthenticate'], (r) => r.some((e) => e.result === reason));
    assert.ok(rows.some((e) => e.result === reason), `${what}: audited ${reason}`);
    // Still no step-up: the sensitive action is refused and the identity stays.
    const still = await del(jar, s0.csrf_token, identity.id);
    assert.equal(still.status, 401, what);
    assert.equal((await identities(jar)).length, 1);
  }
  assert.ok(!audit(gh, ['--user', s0.user_id, '--action', 'user.reauthenticate']).some((e) => e.result === 'success'));

  // Someone else's identity at the provider does not confirm this account.
  const mine = rogue.user.sub;
  rogue.user.sub = `${mine}-other`;
  rogue.misbehave({ claims: tokenTimes(serverNow()) });
  const other = await reauthViaProvider(jar, s0.csrf_token);
  assert.equal(other.status, 403, other.text);
  assert.equal(other.body.code, 'oauth_reauth_wrong_identity');
  assert.equal(jar.get('__Host-gh_session'), sessionCookie);
  rogue.user.sub = mine;

  // A fresh login at the provider (auth_time after the flow started): a new session, step-up granted.
  rogue.misbehave({ claims: tokenTimes(serverNow()) });
  const ok = await reauthViaProvider(jar, s0.csrf_token);
  assert.equal(ok.status, 303, ok.text);
  assert.equal(ok.location, '/account');
  assert.notEqual(jar.get('__Host-gh_session'), sessionCookie, 'a new session id (ASVS 7.2.4)');
  await auditUntil(gh, ['--user', s0.user_id, '--action', 'user.reauthenticate'], (r) => r.some((e) => e.result === 'success'));
  const s1 = await session(jar);
  const last = await del(jar, s1.csrf_token, identity.id);
  assert.equal(last.status, 409, 'past step-up: refused only because it is the last way in');
  assert.equal((await last.json()).code, 'last_sign_in_method');
});

test('provider step-up is not offered to, nor accepted for, an account with a password', async () => {
  const email = uniqueEmail('haspw');
  const password = goodPassword();
  const reg = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(reg.status, 201, reg.text);
  const jar = new Jar();
  const login = await fetch(`${gh.base}/v1/session/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  jar.store(login);
  const { csrf_token: csrf } = await login.json();
  const go = await postForm('/reauth/provider', jar, { csrf, provider: PROVIDER });
  assert.equal(go.status, 400, go.text);
  assert.match(go.text, /cannot confirm/);
  assert.equal(go.location, null);
});

test('link and unlink with an expired step-up window are refused, and nothing changes', async () => {
  const email = uniqueEmail('linkstale');
  const password = goodPassword();
  const reg = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(reg.status, 201, reg.text);
  const userId = reg.body.user.id;
  const jar = new Jar();
  const login = await fetch(`${gh.base}/v1/session/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  jar.store(login);
  const { csrf_token: csrf } = await login.json();

  // Fresh: one identity linked.
  const link = await postForm('/account/identities/link', jar, { csrf, provider: PROVIDER });
  assert.equal(link.status, 303, link.text);
  const linked = await get(await providerRedirect(link.location), jar);
  assert.equal(linked.location, '/account?notice=identity_linked');
  const [identity] = await identities(jar);
  assert.ok(identity);

  setClock(SHIFT_S);
  const startsBefore = audit(gh, ['--user', userId, '--action', 'oauth.start']).length;

  // Linking another identity: the step-up page, not the provider.
  rogue.user.sub = `${rogue.user.sub}-second`;
  const again = await postForm('/account/identities/link', jar, { csrf, provider: PROVIDER });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.location, null);
  assert.match(again.text, /name="password"/);
  assert.equal(audit(gh, ['--user', userId, '--action', 'oauth.start']).length, startsBefore, 'no flow started');

  // Unlinking, through the API and the page.
  const api = await del(jar, csrf, identity.id);
  assert.equal(api.status, 401);
  assert.equal((await api.json()).code, 'reauthentication_required');
  const form = await postForm('/account/identities/unlink', jar, { csrf, id: identity.id });
  assert.equal(form.status, 200, form.text);
  assert.match(form.text, /name="password"/);

  const after_ = await identities(jar);
  assert.deepEqual(after_.map((i) => i.id), [identity.id], 'the identity is still linked, and only it');
  assert.ok(!audit(gh, ['--user', userId, '--action', 'oauth.identity_unlinked']).length, 'no unlink audited');
});
