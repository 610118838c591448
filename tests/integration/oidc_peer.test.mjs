// Proves the upstream OpenID provider peer (lib/oidc_op.mjs) works end to end
// over plain HTTP, independently of Gatehouse: discovery, authorization with
// PKCE, login + consent, code, token exchange, and an ID token that jose
// verifies against the provider's JWKS. Gatehouse's own tests rely on this.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { startOidcOp, authorizeOverHttp, newPkce, CookieJar, DEFAULT_USER } from './lib/oidc_op.mjs';

const REDIRECT = 'http://127.0.0.1:9/v1/oauth/oidc/callback';  // never contacted: we stop at it

let op;
let meta;
before(async () => {
  op = await startOidcOp({ redirectUris: [REDIRECT] });
  meta = await (await fetch(op.discoveryUrl)).json();
});
after(async () => { await op.stop(); });

function authorizeUrl({ pkce = newPkce(), state = randomBytes(16).toString('base64url'),
  nonce = randomBytes(16).toString('base64url'), clientId = op.clientId, withPkce = true } = {}) {
  const u = new URL(meta.authorization_endpoint);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', clientId);
  u.searchParams.set('redirect_uri', REDIRECT);
  u.searchParams.set('scope', 'openid email profile');
  u.searchParams.set('state', state);
  u.searchParams.set('nonce', nonce);
  if (withPkce) {
    u.searchParams.set('code_challenge', pkce.challenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  return { url: u.href, pkce, state, nonce };
}

async function redeem(code, verifier, target = op) {
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

test('discovery advertises what Gatehouse relies on', () => {
  assert.equal(meta.issuer, op.issuer);
  assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
    assert.ok(meta[k].startsWith(`${op.issuer}/`), k);
  }
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  assert.deepEqual(meta.response_types_supported, ['code']);
});

test('authorization code + PKCE over HTTP: the ID token verifies with jose against the JWKS', async () => {
  const { url, pkce, state, nonce } = authorizeUrl();
  const cb = await authorizeOverHttp(url, { redirectUri: REDIRECT });
  assert.equal(cb.error, undefined);
  assert.equal(cb.state, state);
  assert.equal(cb.iss, op.issuer);  // RFC 9207
  assert.ok(cb.code);
  const tok = await redeem(cb.code, pkce.verifier);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  assert.match(tok.headers.get('cache-control'), /no-store/);
  assert.equal(tok.body.token_type, 'Bearer');
  assert.ok(tok.body.access_token);
  assert.equal(decodeProtectedHeader(tok.body.id_token).alg, 'RS256');
  assert.ok(decodeProtectedHeader(tok.body.id_token).kid);
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload } = await jwtVerify(tok.body.id_token, jwks, {
    issuer: op.issuer, audience: op.clientId, algorithms: ['RS256'],
  });
  assert.equal(payload.sub, DEFAULT_USER.id);
  assert.equal(payload.nonce, nonce);
  assert.equal(payload.email, DEFAULT_USER.email);
  assert.equal(payload.email_verified, true);
  assert.equal(payload.name, DEFAULT_USER.name);
  // The code is single use.
  const again = await redeem(cb.code, pkce.verifier);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');
});

test('a wrong PKCE verifier is invalid_grant; an authorization without PKCE is refused', async () => {
  const { url } = authorizeUrl();
  const cb = await authorizeOverHttp(url, { redirectUri: REDIRECT });
  const tok = await redeem(cb.code, newPkce().verifier);
  assert.equal(tok.status, 400);
  assert.equal(tok.body.error, 'invalid_grant');
  const noPkce = await authorizeOverHttp(authorizeUrl({ withPkce: false }).url, { redirectUri: REDIRECT });
  assert.equal(noPkce.error, 'invalid_request');
  assert.equal(noPkce.code, undefined);
});

test('denied consent comes back as access_denied with state and iss', async () => {
  const { url, state } = authorizeUrl();
  const cb = await authorizeOverHttp(url, { redirectUri: REDIRECT, consent: false });
  assert.equal(cb.error, 'access_denied');
  assert.equal(cb.state, state);
  assert.equal(cb.iss, op.issuer);
  assert.equal(cb.code, undefined);
});

test('a wrong password does not get through the login form', async () => {
  await assert.rejects(authorizeOverHttp(authorizeUrl().url, { redirectUri: REDIRECT, password: 'nope' }), /401/);
});

test('the provider session is reused: a second authorization with the same jar skips login', async () => {
  const jar = new CookieJar();
  const first = await authorizeOverHttp(authorizeUrl().url, { redirectUri: REDIRECT, jar });
  assert.ok(first.code);
  const second = await authorizeOverHttp(authorizeUrl().url, { redirectUri: REDIRECT, jar, password: 'unused-wrong' });
  assert.ok(second.code);
});

test('users are configurable: an unverified email is reported as email_verified false', async () => {
  op.users.push({ id: 'bob-0002', password: 'bob-pw', email: 'bob@example.test', email_verified: false, name: 'Bob' });
  const { url, pkce } = authorizeUrl();
  const cb = await authorizeOverHttp(url, { redirectUri: REDIRECT, login: 'bob-0002', password: 'bob-pw' });
  const tok = await redeem(cb.code, pkce.verifier);
  const { payload } = await jwtVerify(tok.body.id_token, createRemoteJWKSet(new URL(meta.jwks_uri)),
    { issuer: op.issuer, audience: op.clientId });
  assert.equal(payload.sub, 'bob-0002');
  assert.equal(payload.email_verified, false);
});

test('an ES256 client gets ES256 ID tokens', async () => {
  const es = await startOidcOp({ redirectUris: [REDIRECT], idTokenAlg: 'ES256' });
  try {
    const esMeta = await (await fetch(es.discoveryUrl)).json();
    const pkce = newPkce();
    const u = new URL(esMeta.authorization_endpoint);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: es.clientId, redirect_uri: REDIRECT,
      scope: 'openid email', state: 's', nonce: 'n', code_challenge: pkce.challenge, code_challenge_method: 'S256' })) {
      u.searchParams.set(k, v);
    }
    const cb = await authorizeOverHttp(u.href, { redirectUri: REDIRECT });
    const res = await fetch(esMeta.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${es.clientId}:${es.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: cb.code, redirect_uri: REDIRECT, code_verifier: pkce.verifier }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    const { payload, protectedHeader } = await jwtVerify(body.id_token, createRemoteJWKSet(new URL(esMeta.jwks_uri)),
      { issuer: es.issuer, audience: es.clientId, algorithms: ['ES256'] });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.nonce, 'n');
  } finally {
    await es.stop();
  }
});

test('no server errors were logged by the provider', () => {
  assert.deepEqual(op.serverErrors, []);
});
