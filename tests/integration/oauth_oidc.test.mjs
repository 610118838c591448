// Federated sign-in against a real, certified OpenID provider (npm
// oidc-provider, lib/oidc_op.mjs): the browser flow through Chromium (sign in
// at the provider, consent, land signed in at Gatehouse with the identity on
// /account) and the native one-time-code flow over HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, loopbackContext } from './lib/browser.mjs';
import { startOidcOp, authorizeOverHttp, newPkce, DEFAULT_USER } from './lib/oidc_op.mjs';
import { freePort, startGatehouse, Jar, get, start, users } from './lib/oauth.mjs';

const PROVIDER = 'corp';
const APP = 'http://127.0.0.1:9/app/callback';  // a native app's registered URI (never fetched)
let op;
let gh;
let browser;

before(async () => {
  const port = await freePort();
  op = await startOidcOp({ redirectUris: [`http://127.0.0.1:${port}/v1/oauth/${PROVIDER}/callback`] });
  op.users.push({ id: 'bob-0002', password: 'bob-password', email: 'bob@example.test', email_verified: true, name: 'Bob Native' });
  gh = await startGatehouse({
    port,
    providers: { [PROVIDER]: { issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, display_name: 'Corp SSO' } },
    oauth: { native_redirect_uris: APP },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  await op?.stop();
});

test('browser: "Sign in with Corp SSO", sign in and consent at the provider, land signed in with the identity on /account', async () => {
  const ctx = await loopbackContext(browser);
  const page = await ctx.newPage();
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));
  await page.goto(`${gh.base}/login`);
  await page.click('#provider-corp');
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.fill('input[name=login]', DEFAULT_USER.id);
  await page.fill('input[name=password]', DEFAULT_USER.password);
  await page.click('button[type=submit]');
  await page.waitForSelector('text=asks for');  // the consent page
  await page.click('button[type=submit]');
  await page.waitForURL(`${gh.base}/account`);
  assert.equal(await page.textContent('#account-email'), DEFAULT_USER.email);
  assert.equal(await page.locator('[data-provider=corp]').count(), 1);
  // Cookies as the browser sees them: the session, and the flow cookie gone.
  const cookies = await ctx.cookies(gh.base);
  const session = cookies.find((c) => c.name === '__Host-gh_session');
  assert.ok(session?.httpOnly && session.secure);
  assert.ok(!cookies.some((c) => c.name === '__Host-gh_oauth'));
  // No token, session id or code ever in a Gatehouse URL other than the callback's own code.
  for (const u of seen.filter((x) => x.startsWith(gh.base) && !x.includes('/callback'))) {
    assert.ok(!/[?&](code|token|access_token|id_token|refresh)=/.test(u), u);
  }
  // A password-less provider user: no "change password" form, the identity listed.
  assert.equal(await page.locator('#password-heading').count(), 0);
  await ctx.close();
});

test('native: one-time code at the app URI (never a token), exchanged once with PKCE for tokens', async () => {
  const before_ = users(gh).length;
  const pkce = newPkce();
  const jar = new Jar();
  const q = new URLSearchParams({ mode: 'native', return_to: APP, code_challenge: pkce.challenge, code_challenge_method: 'S256', state: 'app-state-1' });
  const { res, providerUrl } = await start(gh, PROVIDER, jar, q.toString());
  assert.equal(res.status, 303, res.text);
  const back = await authorizeOverHttp(providerUrl, { redirectUri: `${gh.base}/v1/oauth/${PROVIDER}/callback`, login: 'bob-0002', password: 'bob-password' });
  assert.ok(back.code && back.iss === op.issuer);
  const cb = await get(back.url, jar);
  assert.equal(cb.status, 303, cb.text);
  const loc = new URL(cb.location);
  assert.equal(`${loc.origin}${loc.pathname}`, APP);
  assert.equal(loc.searchParams.get('state'), 'app-state-1');
  const code = loc.searchParams.get('code');
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!/token/.test(cb.location));
  assert.equal(users(gh).length, before_ + 1, 'bob was created');

  // Wrong verifier: refused, and the code is gone (single use).
  const wrong = await gh.json('POST', '/v1/oauth/token', { code, redirect_uri: APP, code_verifier: newPkce().verifier }, { 'token-transport': 'body' });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.code, 'invalid_grant');

  // A fresh code, exchanged properly.
  const pkce2 = newPkce();
  const jar2 = new Jar();
  const q2 = new URLSearchParams({ mode: 'native', return_to: APP, code_challenge: pkce2.challenge, code_challenge_method: 'S256' });
  const s2 = await start(gh, PROVIDER, jar2, q2.toString());
  const back2 = await authorizeOverHttp(s2.providerUrl, { redirectUri: `${gh.base}/v1/oauth/${PROVIDER}/callback`, login: 'bob-0002', password: 'bob-password' });
  const cb2 = await get(back2.url, jar2);
  const code2 = new URL(cb2.location).searchParams.get('code');
  const ok = await gh.json('POST', '/v1/oauth/token', { code: code2, redirect_uri: APP, code_verifier: pkce2.verifier }, { 'token-transport': 'body' });
  assert.equal(ok.status, 200, ok.text);
  assert.ok(ok.body.access_token && ok.body.refresh_token);
  assert.equal(ok.body.user.email, 'bob@example.test');
  const me = await gh.json('GET', '/v1/me', undefined, { authorization: `Bearer ${ok.body.access_token}` });
  assert.equal(me.status, 200, me.text);
  // Replay of the redeemed code.
  const replay = await gh.json('POST', '/v1/oauth/token', { code: code2, redirect_uri: APP, code_verifier: pkce2.verifier }, { 'token-transport': 'body' });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.code, 'invalid_grant');
});

test('native: only registered app URIs and a PKCE S256 challenge', async () => {
  const pkce = newPkce();
  const bad = await start(gh, PROVIDER, new Jar(), new URLSearchParams({ mode: 'native', return_to: 'https://evil.example/cb', code_challenge: pkce.challenge, code_challenge_method: 'S256' }).toString());
  assert.equal(bad.res.status, 400);
  assert.equal(bad.res.body.code, 'invalid_return_to');
  const plain = await start(gh, PROVIDER, new Jar(), new URLSearchParams({ mode: 'native', return_to: APP, code_challenge: pkce.verifier, code_challenge_method: 'plain' }).toString());
  assert.equal(plain.res.status, 400);
});

test('browser return_to: only local paths are followed after sign-in', async () => {
  const jar = new Jar();
  const { res, providerUrl } = await start(gh, PROVIDER, jar, 'return_to=https%3A%2F%2Fevil.example%2F');
  assert.equal(res.status, 303);
  const back = await authorizeOverHttp(providerUrl, { redirectUri: `${gh.base}/v1/oauth/${PROVIDER}/callback` });
  const cb = await get(back.url, jar);
  assert.equal(cb.status, 303);
  assert.equal(cb.location, '/account');
  const jar2 = new Jar();
  const s2 = await start(gh, PROVIDER, jar2, 'return_to=%2Faccount%2Fmfa%2Fsetup');
  const back2 = await authorizeOverHttp(s2.providerUrl, { redirectUri: `${gh.base}/v1/oauth/${PROVIDER}/callback` });
  const cb2 = await get(back2.url, jar2);
  assert.equal(cb2.location, '/account/mfa/setup');
});

test('browser step-up through the provider: its login form is shown again (prompt=login, max_age=0), then a fresh session', async () => {
  op.users.push({ id: 'carol-0003', password: 'carol-password', email: 'carol@example.test', email_verified: true, name: 'Carol Stepup' });
  const ctx = await loopbackContext(browser);
  const page = await ctx.newPage();
  const authorizeUrls = [];
  page.on('request', (r) => { if (r.url().startsWith(`${op.issuer}/auth`)) authorizeUrls.push(new URL(r.url())); });
  // First sign-in: a password-less account at Gatehouse, and a session at the provider.
  await page.goto(`${gh.base}/login`);
  await page.click('#provider-corp');
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.fill('input[name=login]', 'carol-0003');
  await page.fill('input[name=password]', 'carol-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('text=asks for');
  await page.click('button[type=submit]');
  await page.waitForURL(`${gh.base}/account`);

  // The provider's session alone answers a plain sign-in: no login form this time.
  await page.goto(`${gh.base}/v1/oauth/corp/start?return_to=%2Faccount`);
  await page.waitForURL(`${gh.base}/account`);
  assert.equal(authorizeUrls.at(-1).searchParams.get('prompt'), null);
  const sessionBefore = (await ctx.cookies(gh.base)).find((c) => c.name === '__Host-gh_session').value;

  // Step-up: the provider is told to ask again, and does.
  await page.goto(`${gh.base}/reauth`);
  assert.equal(await page.locator('input[name=password]').count(), 0, 'no password to ask for');
  await page.click('#reauth-corp');
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.waitForSelector('input[name=login]');  // the provider's login form, despite its session
  const asked = authorizeUrls.at(-1);
  assert.equal(asked.searchParams.get('prompt'), 'login');
  assert.equal(asked.searchParams.get('max_age'), '0');
  await page.fill('input[name=login]', 'carol-0003');
  await page.fill('input[name=password]', 'carol-password');
  await page.click('button[type=submit]');
  // Back at Gatehouse, or (if the provider asks for consent again) its consent page first.
  const landed = page.waitForURL((u) => u.href.startsWith(gh.base)).then(() => 'gatehouse', () => 'closed');
  const consent = page.waitForSelector('text=asks for').then(() => 'consent', () => 'closed');
  if (await Promise.race([landed, consent]) === 'consent') await page.click('button[type=submit]');
  await page.waitForURL(`${gh.base}/account?notice=reauthenticated`);
  const sessionAfter = (await ctx.cookies(gh.base)).find((c) => c.name === '__Host-gh_session').value;
  assert.notEqual(sessionAfter, sessionBefore, 'a fresh session after the step-up');
  await ctx.close();
});
