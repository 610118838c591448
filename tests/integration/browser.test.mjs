// End to end in a real browser (Debian's chromium via playwright-core) through
// real nginx in front of Gatehouse and a protected app: register, sign in,
// cookie attributes as the browser sees them, the protected app, a second
// browser signed out from the first, logout — and the attacks a hostile page
// can try from another origin. Screenshots of every page go to
// build/test-artifacts/browser/ (or $TEST_ARTIFACTS_DIR).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchChromium, loopbackContext } from './lib/browser.mjs';
import { startStack } from './lib/nginx.mjs';
import { uniqueEmail, goodPassword } from './lib/server.mjs';

const ARTIFACTS = process.env.TEST_ARTIFACTS_DIR ?? resolve(import.meta.dirname, '../../build/test-artifacts/browser');
mkdirSync(ARTIFACTS, { recursive: true });

let stack;
let browser;
let evilCrossSite;   // http://localhost:P — another site
let evilSameSite;    // http://127.0.0.1:Q — same site (cookies ignore ports), another origin

// A hostile page: forms that post to Gatehouse, and a credentialed fetch.
function evilPage(target) {
  return `<!doctype html><html><body>
<form id="logout" method="post" action="${target}/logout"><input name="csrf" value="guess"><button>logout</button></form>
<form id="revoke" method="post" action="${target}/account/sessions/revoke-others"><input name="csrf" value="guess"><button>revoke</button></form>
<iframe id="frame" src="${target}/account" title="framed"></iframe>
<form id="login" method="post" action="${target}/login"><input name="email" value="attacker@example.test"><input name="password" value="attacker-password-123"><button>login</button></form>
</body></html>`;
}

async function startEvil(host, target) {
  const srv = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(evilPage(target));
  });
  srv.listen(0, host);
  await once(srv, 'listening');
  return { srv, base: `http://${host === '::1' ? '[::1]' : host}:${srv.address().port}` };
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

before(async () => {
  stack = await startStack();
  browser = await launchChromium();
  evilCrossSite = await startEvil('localhost', stack.base);
  evilSameSite = await startEvil('127.0.0.1', stack.base);
});

after(async () => {
  await browser?.close();
  evilCrossSite?.srv.close();
  evilSameSite?.srv.close();
  await stack?.stop();
});

async function sessionCookie(ctx) {
  return (await ctx.cookies(stack.base)).find((c) => c.name === '__Host-gh_session');
}

async function signedInAs(page) {
  await page.goto(`${stack.base}/`);
  if (!page.url().startsWith(`${stack.base}/login`)) return page.locator('#email').textContent();
  return null;
}

test('register → sign in → protected app → revoke a second browser → logout, and hostile pages get nothing', async () => {
  const email = uniqueEmail('browser');
  const password = goodPassword('browser');
  const a = await loopbackContext(browser);
  const page = await a.newPage();

  // The protected app sends a stranger to the sign-in page, remembering where they were going.
  await page.goto(`${stack.base}/?from=e2e`);
  assert.match(page.url(), /\/login\?return_to=/);
  assert.equal(new URL(page.url()).searchParams.get('return_to'), `${stack.base}/?from=e2e`);
  await shot(page, '01-login');

  // Register from there; the account is created and the browser lands back in the app.
  await page.getByRole('link', { name: 'Create an account' }).click();
  assert.match(page.url(), /\/register\?return_to=/);
  await shot(page, '02-register');
  await page.getByLabel('Name').fill('Ada Browser');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${stack.base}/?from=e2e`);
  assert.equal(await page.locator('#email').textContent(), email);
  assert.ok((await page.locator('#user-id').textContent()).length > 0);
  await shot(page, '03-app-after-register');

  // Sign out from the account page, then sign in again through the form.
  await page.goto(`${stack.base}/account`);
  await shot(page, '04-account');
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.waitForURL(/\/login\?notice=signed_out/);
  assert.match(await page.getByRole('status').textContent(), /signed out/);
  await shot(page, '05-signed-out');
  assert.equal(await sessionCookie(a), undefined, 'the session cookie is gone');
  await page.goto(`${stack.base}/?from=again`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a wrong password for sure');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await page.getByRole('alert').textContent(), /email or password is not right/);
  await shot(page, '06-login-error');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${stack.base}/?from=again`);
  assert.equal(await page.locator('#email').textContent(), email);

  // The cookie as the browser holds it.
  const c = await sessionCookie(a);
  assert.ok(c, 'session cookie present');
  assert.equal(c.httpOnly, true);
  assert.equal(c.secure, true);
  assert.equal(c.sameSite, 'Lax');
  assert.equal(c.path, '/');
  assert.equal(c.domain, '127.0.0.1', 'host-only, no Domain attribute');
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('gh_session'), 'not readable from JavaScript');

  // A second browser signs in; the first sees it and signs it out.
  const b = await loopbackContext(browser);
  const pageB = await b.newPage();
  await pageB.goto(`${stack.base}/login`);
  await pageB.getByLabel('Email').fill(email);
  await pageB.getByLabel('Password').fill(password);
  await pageB.getByRole('button', { name: 'Sign in' }).click();
  await pageB.waitForURL(`${stack.base}/account`);
  assert.equal(await signedInAs(pageB), email);

  await page.goto(`${stack.base}/account`);
  const rows = page.locator('table.sessions tbody tr');
  assert.equal(await rows.count(), 2);
  await shot(page, '07-account-two-sessions');

  // Hostile pages, with both browsers signed in.
  for (const evil of [evilCrossSite, evilSameSite]) {
    const ep = await a.newPage();
    await ep.goto(evil.base, { waitUntil: 'load' });
    // Clickjacking: our pages refuse to render inside another origin's frame.
    const framed = ep.frames().find((f) => f !== ep.mainFrame());
    assert.ok(framed, 'the hostile page has its frame');
    assert.ok(!framed.url().startsWith(stack.base), `${evil.base}: the frame did not load our page (${framed.url()})`);
    assert.equal(await framed.locator('form').count(), 0);
    // A credentialed cross-origin read of the session API is blocked by CORS.
    const read = await ep.evaluate(async (target) => {
      try {
        const r = await fetch(`${target}/v1/sessions`, { credentials: 'include' });
        return `read ${r.status} ${await r.text()}`;
      } catch (e) { return `blocked: ${e.name}`; }
    }, stack.base);
    assert.match(read, /^blocked: TypeError/, `${evil.base}: ${read}`);
    // Cross-site form posts: sign the victim out, sign out their other devices, log them in as the attacker.
    for (const form of ['logout', 'revoke', 'login']) {
      await ep.goto(evil.base);
      await ep.locator(`#${form} button`).click();
      await ep.waitForLoadState();
      assert.equal(await signedInAs(pageB), email, `${evil.base} ${form}: the second browser is still signed in`);
    }
    await ep.close();
    assert.equal(await signedInAs(page), email, `${evil.base}: still signed in as the victim, not the attacker`);
  }
  await page.goto(`${stack.base}/account`);
  assert.equal(await rows.count(), 2, 'no session was revoked by a hostile page');

  // Now the real thing: sign out the other device.
  await page.locator('table.sessions tbody tr', { hasNot: page.locator('.badge') }).getByRole('button', { name: 'Sign out this session' }).click();
  await page.waitForURL(/\/account\?notice=session_revoked/);
  assert.equal(await rows.count(), 1);
  await shot(page, '08-account-revoked');
  assert.equal(await signedInAs(pageB), null, 'the revoked browser is signed out');
  await shot(pageB, '09-second-browser-signed-out');

  // Logout from the /logout page.
  await page.goto(`${stack.base}/logout`);
  await shot(page, '10-logout');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login\?notice=signed_out/);
  assert.equal(await signedInAs(page), null);
  await a.close();
  await b.close();
});

test('a planted session cookie is not adopted by the browser sign-in (fixation)', async () => {
  const email = uniqueEmail('fix');
  const password = goodPassword('fix');
  const reg = await fetch(`${stack.base}/v1/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  assert.equal(reg.status, 201);
  const ctx = await loopbackContext(browser);
  const planted = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const page = await ctx.newPage();
  await page.goto(`${stack.base}/login`);
  // Planted the way an attacker could (script on a page of this host); the server must not adopt it.
  await page.evaluate((v) => { document.cookie = `__Host-gh_session=${v}; Path=/; Secure; SameSite=Lax`; }, planted);
  assert.equal((await sessionCookie(ctx))?.value, planted, 'the planted cookie is in the jar');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${stack.base}/account`);
  const c = await sessionCookie(ctx);
  assert.notEqual(c.value, planted);
  assert.equal((await fetch(`${stack.base}/v1/forward-auth`, { headers: { cookie: `__Host-gh_session=${planted}` } })).status, 401);
  await ctx.close();
});
