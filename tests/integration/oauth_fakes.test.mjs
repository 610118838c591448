// Proves the two hand-written OAuth test peers do what they claim, so a
// Gatehouse test that fails against them is Gatehouse's failure:
// lib/rogue_op.mjs (a misbehaving OpenID provider) and lib/github_fake.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { startRogueOp } from './lib/rogue_op.mjs';
import { startGithubFake } from './lib/github_fake.mjs';
import { newPkce } from './lib/oidc_op.mjs';

const REDIRECT = 'http://127.0.0.1:9/v1/oauth/test/callback';  // never contacted

let rogue;
let gh;
before(async () => {
  rogue = await startRogueOp({ redirectUris: [REDIRECT] });
  gh = await startGithubFake({ redirectUris: [REDIRECT] });
});
after(async () => { await rogue.stop(); await gh.stop(); });

// Authorize (auto-approved) and redeem; returns { callback, token: { status, body } }.
async function rogueFlow({ nonce = 'nonce-1', state = 'state-1' } = {}) {
  const pkce = newPkce();
  const u = new URL(`${rogue.issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: rogue.clientId, redirect_uri: REDIRECT,
    scope: 'openid email', state, nonce, code_challenge: pkce.challenge, code_challenge_method: 'S256' })) {
    u.searchParams.set(k, v);
  }
  const res = await fetch(u, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const callback = Object.fromEntries(new URL(res.headers.get('location')).searchParams);
  if (!callback.code) return { callback };
  const tr = await fetch(`${rogue.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${rogue.clientId}:${rogue.clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.code, redirect_uri: REDIRECT,
      code_verifier: pkce.verifier }),
  });
  return { callback, token: { status: tr.status, body: await tr.json() } };
}

const verifyAt = (token) => jwtVerify(token, createRemoteJWKSet(new URL(`${rogue.issuer}/jwks`)),
  { issuer: rogue.issuer, audience: rogue.clientId, algorithms: ['RS256', 'ES256', 'EdDSA'] });

test('rogue OP: well-behaved by default (discovery, iss, PKCE, a verifiable ID token with the nonce)', async () => {
  rogue.reset();
  const meta = await (await fetch(rogue.discoveryUrl)).json();
  assert.equal(meta.issuer, rogue.issuer);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  const { callback, token } = await rogueFlow();
  assert.equal(callback.iss, rogue.issuer);
  assert.equal(callback.state, 'state-1');
  assert.equal(token.status, 200);
  const { payload } = await verifyAt(token.body.id_token);
  assert.equal(payload.nonce, 'nonce-1');
  assert.equal(payload.email_verified, true);
  assert.equal(rogue.lastTokenRequest.authMethod, 'client_secret_basic');
  for (const alg of ['ES256', 'EdDSA']) {
    rogue.reset().misbehave({ idTokenAlg: alg });
    const r = await rogueFlow();
    assert.equal(decodeProtectedHeader(r.token.body.id_token).alg, alg);
    await verifyAt(r.token.body.id_token);
  }
});

test('rogue OP: a wrong PKCE verifier or a replayed code is invalid_grant', async () => {
  rogue.reset();
  const { callback } = await rogueFlow().then(async (r) => r);
  const replay = await fetch(`${rogue.issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.code, redirect_uri: REDIRECT,
      code_verifier: newPkce().verifier, client_id: rogue.clientId, client_secret: rogue.clientSecret }),
  });
  assert.equal(replay.status, 400);
  assert.equal((await replay.json()).error, 'invalid_grant');
});

const rejectedByJose = ['other-key', 'unknown-kid', 'wrong-aud', 'wrong-iss', 'iss-trailing-slash', 'expired',
  'alg-none', 'hs256-public-key'];
for (const mode of rejectedByJose) {
  test(`rogue OP: idToken '${mode}' is refused by an independent verifier (jose)`, async () => {
    rogue.reset().misbehave({ idToken: mode });
    const { token } = await rogueFlow();
    assert.equal(token.status, 200);
    await assert.rejects(verifyAt(token.body.id_token));
  });
}

test('rogue OP: claim-level misbehaviours are present in otherwise valid tokens', async () => {
  const cases = {
    'wrong-nonce': (p) => p.nonce !== 'nonce-1',
    'no-nonce': (p) => !('nonce' in p),
    'multi-aud-no-azp': (p) => Array.isArray(p.aud) && p.aud.length === 2 && !('azp' in p),
    'untrusted-aud': (p) => p.aud.includes('untrusted') && p.azp === rogue.clientId,
    'wrong-azp': (p) => p.azp === 'another-client',
    'too-old': (p) => p.iat < Date.now() / 1000 - 1800,
    'iat-future': (p) => p.iat > Date.now() / 1000 + 1800,  // jose does not check iat against the clock
    'email-unverified': (p) => p.email_verified === false,
    'email-verified-string': (p) => p.email_verified === 'true',
  };
  for (const [mode, check] of Object.entries(cases)) {
    rogue.reset().misbehave({ idToken: mode });
    const { token } = await rogueFlow();
    const { payload } = await verifyAt(token.body.id_token);  // the signature is good
    assert.ok(check(payload), `${mode}: ${JSON.stringify(payload)}`);
  }
  rogue.reset().misbehave({ idToken: 'typ-at+jwt' });
  assert.equal(decodeProtectedHeader((await rogueFlow()).token.body.id_token).typ, 'at+jwt');
  rogue.reset().misbehave({ claims: { sub: 'x'.repeat(300) } });
  assert.equal(decodeJwt((await rogueFlow()).token.body.id_token).sub.length, 300);
});

test('rogue OP: callback misbehaviours (mix-up, missing iss, denied, no state)', async () => {
  rogue.reset().misbehave({ iss: 'mix-up' });
  assert.equal((await rogueFlow()).callback.iss, 'https://honest-idp.example.test');
  rogue.reset().misbehave({ iss: 'omit' });
  assert.equal((await rogueFlow()).callback.iss, undefined);
  rogue.reset().misbehave({ authorize: 'access_denied' });
  const denied = (await rogueFlow()).callback;
  assert.equal(denied.error, 'access_denied');
  assert.equal(denied.code, undefined);
  rogue.reset().misbehave({ authorize: 'no-state' });
  assert.equal((await rogueFlow()).callback.state, undefined);
});

test('rogue OP: token endpoint failures (500, error, no id_token, hang until the client gives up)', async () => {
  rogue.reset().misbehave({ token: '500' });
  assert.equal((await rogueFlow().catch(() => null)), null);  // a 500 text body is not JSON
  rogue.reset().misbehave({ token: 'no-id-token' });
  assert.equal((await rogueFlow()).token.body.id_token, undefined);
  rogue.reset().misbehave({ token: 'invalid_grant' });
  assert.equal((await rogueFlow()).token.body.error, 'invalid_grant');
  rogue.reset().misbehave({ token: 'hang' });
  const t0 = Date.now();
  await assert.rejects(fetch(`${rogue.issuer}/token`, { method: 'POST', body: 'x=1', signal: AbortSignal.timeout(300) }),
    /TimeoutError|aborted/);
  assert.ok(Date.now() - t0 >= 250);
  rogue.reset().misbehave({ discovery: { issuer: 'https://elsewhere.example.test' } });
  assert.equal((await (await fetch(rogue.discoveryUrl)).json()).issuer, 'https://elsewhere.example.test');
  rogue.reset().misbehave({ jwks: 'empty' });
  assert.deepEqual((await (await fetch(`${rogue.issuer}/jwks`)).json()).keys, []);
  rogue.reset();
});

// --- GitHub fake -------------------------------------------------------------

async function githubAuthorize(pkce, { state = 'gh-state' } = {}) {
  const u = new URL(gh.authorizeUrl);
  for (const [k, v] of Object.entries({ client_id: gh.clientId, redirect_uri: REDIRECT, scope: 'read:user user:email',
    state, code_challenge: pkce.challenge, code_challenge_method: 'S256' })) {
    u.searchParams.set(k, v);
  }
  const res = await fetch(u, { redirect: 'manual' });
  assert.equal(res.status, 302);
  return Object.fromEntries(new URL(res.headers.get('location')).searchParams);
}

async function githubToken(code, verifier, { accept = 'application/json' } = {}) {
  const res = await fetch(gh.tokenUrl, {
    method: 'POST',
    headers: { accept },
    body: new URLSearchParams({ client_id: gh.clientId, client_secret: gh.clientSecret, code, redirect_uri: REDIRECT,
      code_verifier: verifier }),
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

test('GitHub fake: authorize, token (JSON and form), /user and /user/emails', async () => {
  gh.reset();
  const pkce = newPkce();
  const cb = await githubAuthorize(pkce);
  assert.equal(cb.state, 'gh-state');
  const tok = await githubToken(cb.code, pkce.verifier);
  assert.equal(tok.status, 200);
  assert.match(tok.type, /application\/json/);
  const body = JSON.parse(tok.text);
  assert.equal(body.token_type, 'bearer');
  const user = await (await fetch(`${gh.apiBase}/user`, { headers: { authorization: `Bearer ${body.access_token}` } })).json();
  assert.equal(user.id, 583231);
  const emails = await (await fetch(`${gh.apiBase}/user/emails`, { headers: { authorization: `token ${body.access_token}` } })).json();
  assert.deepEqual(emails.filter((e) => e.primary && e.verified).map((e) => e.email), ['octocat@github.example.test']);
  assert.equal((await fetch(`${gh.apiBase}/user`)).status, 401);
  // Without Accept: application/json GitHub answers form-encoded.
  const p2 = newPkce();
  const form = await githubToken((await githubAuthorize(p2)).code, p2.verifier, { accept: '*/*' });
  assert.match(form.type, /x-www-form-urlencoded/);
  assert.ok(new URLSearchParams(form.text).get('access_token').startsWith('gho_'));
});

test('GitHub fake: PKCE is verified, codes are single use, errors come as 200 {"error"}', async () => {
  gh.reset();
  const pkce = newPkce();
  const cb = await githubAuthorize(pkce);
  const wrong = await githubToken(cb.code, newPkce().verifier);
  assert.equal(wrong.status, 200);
  assert.equal(JSON.parse(wrong.text).error, 'bad_verification_code');
  const pkce2 = newPkce();
  const cb2 = await githubAuthorize(pkce2);
  assert.ok(JSON.parse((await githubToken(cb2.code, pkce2.verifier)).text).access_token);
  assert.equal(JSON.parse((await githubToken(cb2.code, pkce2.verifier)).text).error, 'bad_verification_code');
  // No challenge at all is refused at the authorization step.
  const u = new URL(gh.authorizeUrl);
  u.search = new URLSearchParams({ client_id: gh.clientId, redirect_uri: REDIRECT, state: 's' }).toString();
  const res = await fetch(u, { redirect: 'manual' });
  assert.equal(new URL(res.headers.get('location')).searchParams.get('error'), 'invalid_request');
  // An unregistered redirect_uri is an error page, never a redirect.
  u.search = new URLSearchParams({ client_id: gh.clientId, redirect_uri: 'https://evil.test/cb', state: 's' }).toString();
  assert.equal((await fetch(u, { redirect: 'manual' })).status, 400);
});

test('GitHub fake: configurable user, emails and failures', async () => {
  gh.reset();
  gh.emails.splice(0, gh.emails.length, { email: 'unverified@example.test', primary: true, verified: false, visibility: null });
  gh.user.id = 7;
  const pkce = newPkce();
  const { access_token: at } = JSON.parse((await githubToken((await githubAuthorize(pkce)).code, pkce.verifier)).text);
  const headers = { authorization: `Bearer ${at}` };
  assert.equal((await (await fetch(`${gh.apiBase}/user`, { headers })).json()).id, 7);
  assert.equal((await (await fetch(`${gh.apiBase}/user/emails`, { headers })).json())[0].verified, false);
  gh.misbehave({ emails: '500' });
  assert.equal((await fetch(`${gh.apiBase}/user/emails`, { headers })).status, 500);
  gh.reset().misbehave({ authorize: 'access_denied' });
  assert.equal((await githubAuthorize(newPkce())).error, 'access_denied');
  gh.reset();
});
