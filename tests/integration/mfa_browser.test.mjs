// Two-step verification end to end in a real browser (Debian's chromium via
// playwright-core) against the real binary over plain http on loopback:
// enrolment from the QR page (the QR code is read back and must carry the
// secret the page prints), sign-in through /mfa/challenge with codes from
// oathtool, replay of a used time step, recovery codes (normalised, single
// use), forgot-password with a real SMTP sink ending every session, and the
// challenge cookie that is not a session, and a forced enrolment (a new
// platform admin) that needs the code mailed to the account. Screenshots go to
// build/test-artifacts/mfa-browser/ (or $TEST_ARTIFACTS_DIR/mfa-browser).
//
// The server's clock is frozen by libfaketime and moved only by this file:
// FAKETIME_TIMESTAMP_FILE holds an absolute time (frozen), re-read on every
// call (FAKETIME_NO_CACHE), so the 30-second TOTP steps the server sees are
// exactly the ones oathtool is asked for — no sleeping for step boundaries.
// Monotonic clocks are left real (timers and timeouts keep working).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium, loopbackContext } from './lib/browser.mjs';
import { Server, cli, uniqueEmail, goodPassword, until } from './lib/server.mjs';
import { Sink, freePort, parseEml } from './lib/smtp.mjs';
import { totpAt, qrMatrixFromSvgPath, decodeQr } from './lib/totp.mjs';

const ARTIFACTS = process.env.TEST_ARTIFACTS_DIR
  ? join(process.env.TEST_ARTIFACTS_DIR, 'mfa-browser')
  : resolve(import.meta.dirname, '../../build/test-artifacts/mfa-browser');
mkdirSync(ARTIFACTS, { recursive: true });

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';  // Debian package libfaketime
const ISSUER = 'Gatehouse E2E';
// The server's frozen clock, in the 30-second TOTP step T = 58907520 and later ones.
const T0 = '2026-01-01 00:00:10';   // step T: enrolment is confirmed with this code
const T1 = '2026-01-01 00:00:40';   // step T+1 (the server still at T0: within the ±1 step window)
const T2 = '2026-01-01 00:01:10';   // step T+2 (the server moved to it)
const T3 = '2026-01-01 00:01:40';   // step T+3 (the server moved to it)

let dir; let sink; let gh; let browser; let clockFile;
let ctxA;   // the user's browser (every test goes on in it)
let pageA;

// Moves the server's clock (atomically: a rename, so it never reads a half-written file).
function setServerClock(at) {
  const tmp = `${clockFile}.tmp`;
  writeFileSync(tmp, `${at}\n`);
  renameSync(tmp, clockFile);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gh-mfa-browser-'));
  clockFile = join(dir, 'faketime.rc');
  setServerClock(T0);
  sink = await new Sink(await freePort(), dir).start();
  const asan = process.env.ASAN_OPTIONS;
  gh = await new Server({
    dataDir: join(dir, 'data'),
    env: {
      GATEHOUSE_MAIL_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      GATEHOUSE_MAIL_SMTP_TLS: 'none',
      GATEHOUSE_MAIL_FROM: 'Gatehouse <no-reply@gatehouse.test>',
      GATEHOUSE_SESSIONS_COOKIE_SECURE: 'false',   // plain http: gh_session, gh_mfa, gh_form
      GATEHOUSE_MFA_ISSUER: ISSUER,
      // Not Server's `faketime` option: a FAKETIME variable would win over the file.
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: clockFile,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      ASAN_OPTIONS: asan ? `${asan}:verify_asan_link_order=0` : 'verify_asan_link_order=0',
    },
  }).start();
  browser = await launchChromium();
});

after(async () => {
  await ctxA?.close();
  await browser?.close();
  const code = await gh?.stop();
  await sink?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'the server stops cleanly');
});

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const cookie = async (ctx, name) => (await ctx.cookies(gh.base)).find((c) => c.name === name);
const url = (path) => gh.url(path);
const pathOf = (page) => { const u = new URL(page.url()); return u.pathname + u.search; };

// Password step on /login; returns the response status of the form post's final page.
async function passwordSignIn(page, email, password, path = '/login') {
  await page.goto(url(path));
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.waitForLoadState();
  return res;
}

// Submits the challenge form; returns the final page's main response status.
async function submitChallenge(page, { code, recovery }) {
  if (recovery !== undefined) {
    await page.locator('details summary').click();
    await page.locator('#recovery_code').fill(recovery);
  }
  if (code !== undefined) await page.locator('#code').fill(code);
  const nav = page.waitForNavigation();
  await page.getByRole('button', { name: 'Verify' }).click();
  const res = await nav;
  return res?.status();
}

async function signOut(page) {
  await page.goto(url('/account'));
  assert.equal(new URL(page.url()).pathname, '/account', 'signed in before signing out');
  await page.locator('section[aria-labelledby="profile"]').getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login\?notice=signed_out/);
}

async function mfaStatus(page) {
  await page.goto(url('/account'));
  assert.equal(new URL(page.url()).pathname, '/account', `signed in (at ${page.url()})`);
  return (await page.locator('#mfa-status').textContent()).trim();
}

function mailsTo(to) {
  return sink.files().map(parseEml).filter((m) => m.to.includes(to));
}
async function waitForMail(to, subject) {
  const m = await until(() => mailsTo(to).find((x) => x.subject === subject), Boolean, { timeoutMs: 15000 });
  if (!m) assert.fail(`no mail "${subject}" for ${to}: ${sink.log}`);
  return m;
}

// One user goes through every test, in order.
const user = { email: uniqueEmail('mfa'), password: goodPassword('mfa'), name: 'Grace Second-Factor', secret: null, recovery: [] };

test('enrol from the account page: QR code and key, a wrong code is refused, the right one shows 10 recovery codes', async () => {
  ctxA = await loopbackContext(browser);
  pageA = await ctxA.newPage();
  await pageA.goto(url('/register'));
  await pageA.getByLabel('Name').fill(user.name);
  await pageA.getByLabel('Email').fill(user.email);
  await pageA.getByLabel('Password').fill(user.password);
  await pageA.getByRole('button', { name: 'Create account' }).click();
  await pageA.waitForURL(url('/account'));
  assert.equal(await pageA.locator('#account-email').textContent(), user.email);
  assert.ok((await cookie(ctxA, 'gh_session'))?.httpOnly, 'signed in with an HttpOnly session cookie');
  assert.match(await mfaStatus(pageA), /^Off\b/);
  await shot(pageA, '01-account-mfa-off');

  await pageA.getByRole('link', { name: 'Set up an authenticator app' }).click();
  await pageA.waitForURL(url('/account/mfa/setup'));
  assert.equal(await pageA.getByRole('heading', { level: 1 }).textContent(), 'Set up two-step verification');
  const secret = (await pageA.locator('#totp-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/, '160 bits in base32');

  // The QR code: an inline SVG of real size, with the modules of a real symbol, that says the same key.
  const svg = pageA.locator('figure.qr > svg');
  assert.equal(await svg.count(), 1);
  const box = await svg.boundingBox();
  assert.ok(box && box.width >= 100 && box.height >= 100, `drawn at a scannable size: ${JSON.stringify(box)}`);
  const d = await svg.locator('path').getAttribute('d');
  const modules = (d.match(/M/g) ?? []).length;
  assert.ok(modules > 300, `many dark modules (${modules})`);
  const qr = decodeQr(qrMatrixFromSvgPath(await svg.getAttribute('viewBox'), d));
  const otp = new URL(qr.text);
  assert.equal(otp.protocol, 'otpauth:');
  assert.equal(otp.host, 'totp');
  assert.equal(decodeURIComponent(otp.pathname), `/${ISSUER}:${user.email}`);
  assert.equal(otp.searchParams.get('secret'), secret, 'the QR code carries the key the page prints');
  assert.equal(otp.searchParams.get('issuer'), ISSUER);
  assert.equal(otp.searchParams.get('digits'), '6');
  assert.equal(otp.searchParams.get('period'), '30');
  assert.equal(otp.searchParams.get('algorithm'), 'SHA1');
  await shot(pageA, '02-setup-qr');

  // A wrong code (a code of the right shape, off by one digit) is refused; the same key is shown again.
  const right = totpAt(secret, T0);
  const wrong = right.slice(0, 5) + String((Number(right[5]) + 1) % 10);
  await pageA.locator('#code').fill(wrong);
  const refused = pageA.waitForNavigation();
  await pageA.getByRole('button', { name: 'Turn on two-step verification' }).click();
  assert.equal((await refused).status(), 400);
  assert.match(await pageA.getByRole('alert').textContent(), /That code is not right/);
  assert.equal((await pageA.locator('#totp-secret').textContent()).trim(), secret, 'the key the person scanned stays');
  assert.equal(await pageA.locator('#recovery-codes').count(), 0);
  await shot(pageA, '03-setup-wrong-code');
  assert.match(await mfaStatus(pageA), /^Off\b/, 'still off after a wrong code');

  // The right code (read from the page's key, computed by oathtool) turns it on.
  await pageA.goto(url('/account/mfa/setup'));
  assert.equal((await pageA.locator('#totp-secret').textContent()).trim(), secret, 'a reload shows the same key');
  await pageA.locator('#code').fill(right);
  await pageA.getByRole('button', { name: 'Turn on two-step verification' }).click();
  await pageA.locator('ol#recovery-codes').waitFor();
  const codes = (await pageA.locator('ol#recovery-codes > li > code').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10, 'all different');
  for (const c of codes) assert.match(c, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
  await shot(pageA, '04-recovery-codes');
  await pageA.getByRole('link', { name: 'I have saved them' }).click();
  await pageA.waitForURL(url('/account'));
  assert.match(await mfaStatus(pageA), /^On\b.*\b10 recovery codes left\./);
  assert.equal(await pageA.getByRole('link', { name: 'Set up an authenticator app' }).count(), 0);
  assert.equal(await pageA.getByRole('button', { name: 'New recovery codes' }).count(), 1);
  assert.equal(await pageA.getByRole('button', { name: 'Turn off' }).count(), 1);
  await shot(pageA, '05-account-mfa-on');
  // Once on, the setup page does not offer a new key.
  await pageA.goto(url('/account/mfa/setup'));
  assert.equal(new URL(pageA.url()).pathname, '/account');
  user.secret = secret;
  user.recovery = codes;
});

test('sign-in asks for a code: not signed in before it, the enrolment step replayed is refused, the next step signs in', async () => {
  assert.ok(user.secret, 'enrolled');
  await signOut(pageA);
  const res = await passwordSignIn(pageA, user.email, user.password);
  assert.equal(pathOf(pageA), '/mfa/challenge', `after the password: ${pageA.url()} (${res.status()})`);
  assert.equal(await pageA.getByRole('heading', { level: 1 }).textContent(), "Verify it's you");
  assert.equal(await cookie(ctxA, 'gh_session'), undefined, 'no session yet');
  const mfa = await cookie(ctxA, 'gh_mfa');
  assert.ok(mfa, 'the challenge cookie is set');
  assert.equal(mfa.httpOnly, true);
  assert.equal(mfa.sameSite, 'Lax');  // Lax: it must survive a redirect chain that began at a provider
  assert.equal(mfa.path, '/');
  assert.ok(mfa.expires > 0 && mfa.expires - Date.now() / 1000 <= 3600, 'short-lived');
  assert.equal(await pageA.locator('#recovery_code').isVisible(), false, 'the recovery code field waits inside <details>');
  await shot(pageA, '06-challenge');

  // The same browser is not signed in: its account page sends it to sign in.
  const probe = await ctxA.newPage();
  await probe.goto(url('/account'));
  assert.equal(new URL(probe.url()).pathname, '/login');
  await probe.close();

  // The code of the step that confirmed the enrolment (still the current step) is refused.
  const replay = totpAt(user.secret, T0);
  assert.equal(await submitChallenge(pageA, { code: replay }), 401);
  assert.equal(pathOf(pageA), '/mfa/challenge');
  assert.match(await pageA.getByRole('alert').textContent(), /That code is not right/);
  assert.equal(await cookie(ctxA, 'gh_session'), undefined, 'still no session');
  await shot(pageA, '07-challenge-replay-refused');

  // The next step's code (within the ±1 step window) signs in and lands on the account page.
  assert.equal(await submitChallenge(pageA, { code: totpAt(user.secret, T1) }), 200);
  assert.equal(pageA.url(), url('/account'));
  assert.ok(await cookie(ctxA, 'gh_session'), 'a session now');
  assert.equal(await cookie(ctxA, 'gh_mfa'), undefined, 'the challenge cookie is cleared');
  assert.equal(await pageA.locator('#account-email').textContent(), user.email);
  assert.match(await mfaStatus(pageA), /^On\b.*\b10 recovery codes left\./);
  await shot(pageA, '08-signed-in-with-code');
});

test('a recovery code signs in once (upper case, no dashes, is the same code); the count goes down', async () => {
  assert.equal(user.recovery.length, 10, 'enrolled');
  await signOut(pageA);
  await passwordSignIn(pageA, user.email, user.password);
  assert.equal(pathOf(pageA), '/mfa/challenge');
  const used = user.recovery[3];
  const typed = used.replaceAll('-', '').toUpperCase();
  assert.notEqual(typed, used);
  assert.equal(await submitChallenge(pageA, { recovery: typed }), 200);
  assert.equal(await pageA.getByRole('heading', { level: 1 }).textContent(), 'Signed in');
  assert.match(await pageA.locator('main').textContent(), /You signed in with a recovery code\. You have 9 left\./);
  assert.ok(await cookie(ctxA, 'gh_session'), 'signed in');
  await shot(pageA, '09-recovery-code-used');
  await pageA.getByRole('link', { name: 'Continue' }).click();
  await pageA.waitForURL(url('/account'));
  assert.match(await mfaStatus(pageA), /^On\b.*\b9 recovery codes left\./);
  await shot(pageA, '10-account-9-left');

  // The same code again (as printed this time) is refused.
  await signOut(pageA);
  await passwordSignIn(pageA, user.email, user.password);
  assert.equal(pathOf(pageA), '/mfa/challenge');
  assert.equal(await submitChallenge(pageA, { recovery: used }), 401);
  assert.match(await pageA.getByRole('alert').textContent(), /That code is not right/);
  assert.equal(await cookie(ctxA, 'gh_session'), undefined);
  await shot(pageA, '11-recovery-code-reused');
  // Another one still works (the refusal above was about that code, not the challenge).
  assert.equal(await submitChallenge(pageA, { recovery: user.recovery[7] }), 200);
  assert.match(await pageA.locator('main').textContent(), /You have 8 left\./);
  await signOut(pageA);
});

test('forgot password in the browser: the mailed link sets a new password, every session ends, the second step still applies', async () => {
  assert.ok(user.secret, 'enrolled');
  // A second browser signs in (password and a code of the next step: the server's clock moves to it).
  setServerClock(T2);
  const ctxB = await loopbackContext(browser);
  const pageB = await ctxB.newPage();
  await passwordSignIn(pageB, user.email, user.password);
  assert.equal(pathOf(pageB), '/mfa/challenge');
  assert.equal(await submitChallenge(pageB, { code: totpAt(user.secret, T2) }), 200);
  assert.equal(pageB.url(), url('/account'));

  // The first browser asks for a link.
  await pageA.goto(url('/login'));
  await pageA.getByRole('link', { name: 'Forgot your password?' }).click();
  await pageA.waitForURL(url('/forgot-password'));
  await pageA.locator('#email').fill(user.email);
  await pageA.getByRole('button', { name: 'Send the link' }).click();
  await pageA.waitForLoadState();
  assert.equal(await pageA.getByRole('heading', { level: 1 }).textContent(), 'Check your email');
  await shot(pageA, '12-forgot-sent');
  const mail = await waitForMail(user.email, 'Reset your password');
  const m = mail.text.match(/(\S+\/reset-password\?token=[A-Za-z0-9_-]+)/);
  assert.ok(m, `a reset link in: ${mail.text}`);
  const link = new URL(m[1]);
  assert.equal(link.origin, new URL(gh.base).origin, 'the link points at this server');

  // The link opens the form; the new password is set.
  await pageA.goto(link.href);
  assert.equal(await pageA.getByRole('heading', { level: 1 }).textContent(), 'Choose a new password');
  await shot(pageA, '13-reset-form');
  const newPassword = goodPassword('reset');
  await pageA.getByLabel('New password').fill(newPassword);
  await pageA.getByRole('button', { name: 'Set the new password' }).click();
  await pageA.waitForURL(/\/login\?notice=password_reset/);
  assert.match(await pageA.getByRole('status').textContent(), /every device was signed out/);
  assert.equal(await cookie(ctxA, 'gh_session'), undefined, 'the reset does not sign in');
  await shot(pageA, '14-reset-done');

  // The second browser's session is gone.
  await pageB.goto(url('/account'));
  assert.equal(new URL(pageB.url()).pathname, '/login');
  await shot(pageB, '15-second-browser-signed-out');
  await ctxB.close();

  // The old password fails; the new one works, and still asks for the second step.
  const old = await passwordSignIn(pageA, user.email, user.password);
  assert.equal(old.status(), 401);
  assert.equal(new URL(pageA.url()).pathname, '/login');
  assert.match(await pageA.getByRole('alert').textContent(), /email or password is not right/);
  assert.equal(await cookie(ctxA, 'gh_mfa'), undefined, 'a wrong password gets no challenge');
  await passwordSignIn(pageA, user.email, newPassword);
  assert.equal(pathOf(pageA), '/mfa/challenge', 'a password reset does not skip the second step');
  // The step the second browser used is spent; the next one (the clock moves to it) signs in.
  assert.equal(await submitChallenge(pageA, { code: totpAt(user.secret, T2) }), 401);
  setServerClock(T3);
  assert.equal(await submitChallenge(pageA, { code: totpAt(user.secret, T3) }), 200);
  assert.equal(pageA.url(), url('/account'));
  assert.match(await mfaStatus(pageA), /^On\b.*\b8 recovery codes left\./, 'the reset keeps the authenticator and the codes');
  await shot(pageA, '16-signed-in-new-password');
  user.password = newPassword;
  await signOut(pageA);
});

test('the challenge cookie alone is not a session', async () => {
  assert.ok(user.secret, 'enrolled');
  const ctx = await loopbackContext(browser);
  const page = await ctx.newPage();
  await passwordSignIn(page, user.email, user.password);
  assert.equal(pathOf(page), '/mfa/challenge');
  const jar = await ctx.cookies(gh.base);
  const mfa = jar.find((c) => c.name === 'gh_mfa');
  assert.ok(mfa, 'the challenge cookie');
  assert.deepEqual(jar.filter((c) => c.name === 'gh_session'), [], 'no session cookie');

  // In the browser, with nothing but that cookie.
  await ctx.clearCookies();
  await ctx.addCookies([{ name: 'gh_mfa', value: mfa.value, url: gh.base }]);
  await page.goto(url('/account'));
  assert.equal(new URL(page.url()).pathname, '/login');
  await shot(page, '17-challenge-cookie-is-not-a-session');

  // Over plain HTTP, and with the challenge token put where a session id goes.
  for (const c of [`gh_mfa=${mfa.value}`, `gh_session=${mfa.value}`]) {
    const acct = await fetch(url('/account'), { headers: { cookie: c }, redirect: 'manual' });
    assert.equal(acct.status, 303, c);
    assert.match(acct.headers.get('location'), /^\/login\b/, c);
    const s = await fetch(url('/v1/session'), { headers: { cookie: c } });
    assert.equal(s.status, 401, c);
    assert.equal((await fetch(url('/v1/forward-auth'), { headers: { cookie: c } })).status, 401, c);
  }
  // The challenge itself still stands (nothing above used it up): the cookie still opens the form.
  await page.goto(url('/mfa/challenge'));
  assert.equal(pathOf(page), '/mfa/challenge');
  assert.equal(await page.locator('#code').count(), 1);
  await ctx.close();
});

test('a forced enrolment on the pages needs the code mailed to the account', async () => {
  // A new platform admin (MFA required, no factor yet), made with the CLI and the server's settings.
  const email = uniqueEmail('mfa-forced');
  const password = goodPassword('forced');
  const reg = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(reg.status, 201, reg.text);
  const granted = cli(['user', 'grant-admin', email, '--data-dir', gh.dataDir], { env: gh.env });
  assert.equal(granted.code, 0, granted.err);
  setServerClock(T3);
  const ctx = await loopbackContext(browser);
  const page = await ctx.newPage();
  await passwordSignIn(page, email, password);
  assert.equal(pathOf(page), '/mfa/challenge');
  assert.equal(await page.locator('#email_code').count(), 1, 'the setup form asks for the mailed code');
  const secret = (await page.locator('#totp-secret').textContent()).trim();
  const mail = await waitForMail(email, 'Your code to set up two-step verification');
  const m = mail.text.match(/code: (\d{4}) (\d{4})/);
  assert.ok(m, `a code in: ${mail.text}`);
  const mailed = m[1] + m[2];
  assert.ok(!mail.text.includes(secret), 'not the authenticator key');
  await shot(page, '18-forced-enrolment');

  const submit = async (emailCode) => {
    await page.locator('#email_code').fill(emailCode);
    await page.locator('#code').fill(totpAt(secret, T3));
    const nav = page.waitForNavigation();
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    return (await nav)?.status();
  };
  // The holder of the password alone: a wrong mailed code sets nothing up and signs nobody in.
  assert.equal(await submit(mailed === '12345678' ? '87654321' : '12345678'), 401);
  assert.equal(pathOf(page), '/mfa/challenge');
  assert.match(await page.locator('main').textContent(), /confirmation code from the mail/);
  assert.equal(await cookie(ctx, 'gh_session'), undefined, 'not signed in');
  assert.equal((await page.locator('#totp-secret').textContent()).trim(), secret, 'the same authenticator to scan');
  await shot(page, '19-forced-enrolment-wrong-mail-code');
  // With the mailed code (typed with a space): on, signed in, the recovery codes shown once.
  assert.equal(await submit(`${mailed.slice(0, 4)} ${mailed.slice(4)}`), 200);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your recovery codes');
  assert.ok(await cookie(ctx, 'gh_session'), 'signed in');
  await shot(page, '20-forced-enrolment-done');
  await ctx.close();
});
