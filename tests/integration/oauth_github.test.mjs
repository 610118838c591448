// The non-OIDC path (issue #7): GitHub-shaped OAuth 2.0 (lib/github_fake.mjs):
// code + PKCE, then who signed in from /user (stable numeric id) and
// /user/emails (primary and verified only).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startGithubFake } from './lib/github_fake.mjs';
import { startGatehouse, callbackUrl, Jar, get, start, providerRedirect, users, auditUntil } from './lib/oauth.mjs';

let fake;
let gh;

before(async () => {
  fake = await startGithubFake();
  gh = await startGatehouse({
    providers: { github: { client_id: fake.clientId, client_secret: fake.clientSecret, authorize_url: fake.authorizeUrl, token_url: fake.tokenUrl, api_base: fake.apiBase } },
    oauth: { http_timeout_s: 2 },
  });
  fake.redirectUris.push(callbackUrl(gh, 'github'));
});

after(async () => {
  await gh?.stop();
  await fake?.stop();
});

let n = 0;
beforeEach(() => {
  fake.reset();
  n += 1;
  fake.user.id = 583231 + n;
  fake.user.login = `octocat${n}`;
  fake.emails.splice(0, fake.emails.length,
    { email: `octo${n}.${process.pid}@github.example.test`, primary: true, verified: true, visibility: 'public' },
    { email: `old${n}@example.test`, primary: false, verified: false, visibility: null });
});

async function signIn(jar = new Jar()) {
  const { res, providerUrl } = await start(gh, 'github', jar);
  assert.equal(res.status, 303, res.text);
  return { jar, back: await get(await providerRedirect(providerUrl), jar) };
}

test('GitHub sign-in creates a user keyed on the numeric id, with the primary verified email', async () => {
  const before_ = users(gh).length;
  const { jar, back } = await signIn();
  assert.equal(back.status, 303, back.text);
  assert.equal(back.location, '/account');
  const a = fake.lastAuthorize;
  assert.equal(a.code_challenge_method, 'S256');
  assert.equal(a.nonce, undefined, 'no nonce for plain OAuth 2.0');
  assert.equal(users(gh).length, before_ + 1);
  const ids = await get(`${gh.base}/v1/account/identities`, jar);
  assert.equal(ids.body.identities[0].provider, 'github');
  assert.equal(ids.body.identities[0].email, fake.emails[0].email);
  assert.equal(ids.body.identities[0].name, 'The Octocat');
  // A renamed login is the same person (the id is the subject).
  fake.user.login = 'renamed';
  const again = await signIn();
  assert.equal(again.back.status, 303);
  assert.equal(users(gh).length, before_ + 1);
});

test('GitHub: an unverified primary email creates no account', async () => {
  fake.emails[0].verified = false;
  const before_ = users(gh).length;
  const { back } = await signIn();
  assert.equal(back.status, 403, back.text);
  assert.equal(back.body.code, 'oauth_email_unverified');
  assert.equal(users(gh).length, before_);
  await auditUntil(gh, ['--action', 'oauth.login_failed'], (r) => r.some((e) => e.result.includes('confirm your email')));
});

test('GitHub: /user/emails failing and a bad verification code are provider errors; a hanging token endpoint times out', async () => {
  fake.misbehave({ emails: '500' });
  let r = await signIn();
  assert.equal(r.back.status, 502, r.back.text);
  assert.equal(r.back.body.code, 'oauth_provider_error');
  fake.reset().misbehave({ token: 'bad_verification_code' });
  r = await signIn();
  assert.equal(r.back.status, 502);
  fake.reset().misbehave({ token: 'hang' });
  const t0 = Date.now();
  r = await signIn();
  assert.equal(r.back.status, 504);
  assert.equal(r.back.body.code, 'oauth_provider_unavailable');
  assert.ok(Date.now() - t0 < 6000);
});

test('GitHub: denied authorization', async () => {
  fake.misbehave({ authorize: 'access_denied' });
  const { back } = await signIn();
  assert.equal(back.status, 400);
  assert.equal(back.body.code, 'oauth_denied');
});
