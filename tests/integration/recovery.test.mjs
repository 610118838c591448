// Password reset and email verification (issue #8) end to end: the server
// delivers through a real SMTP server on loopback (aiosmtpd); links are read
// from the received mail, used once, expire (a second server on the same data
// with its clock 31 minutes ahead), and point at the configured public URL,
// never at the Host a request named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, signUp, uniqueEmail, goodPassword, cli, until } from './lib/server.mjs';
import { Sink, freePort, parseEml } from './lib/smtp.mjs';

const PUBLIC = 'https://id.example.test';
let gh; let sink; let dir; let env;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gh-recovery-'));
  sink = await new Sink(await freePort(), dir).start();
  env = {
    GATEHOUSE_MAIL_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
    GATEHOUSE_MAIL_SMTP_TLS: 'none',
    GATEHOUSE_MAIL_FROM: 'Gatehouse <no-reply@id.example.test>',
    GATEHOUSE_PUBLIC_URL: PUBLIC,
    GATEHOUSE_SESSIONS_COOKIE_SECURE: 'false',
  };
  gh = await new Server({ dataDir: join(dir, 'data'), env }).start();
});
after(async () => {
  await gh?.stop();
  await sink?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// The mails to `to` received so far (parsed), oldest first.
function mailsTo(to) {
  return sink.files().map(parseEml).filter((m) => m.to.includes(to));
}
// Waits (bounded) until `to` has received `n` mails; returns them.
async function waitForMails(to, n) {
  const got = await until(() => mailsTo(to), (m) => m.length >= n, { timeoutMs: 15000 });
  if (got.length < n) assert.fail(`no mail #${n} for ${to}: ${sink.log}`);
  return got;
}
function linkIn(mail, path) {
  const m = mail.text.match(new RegExp(`(\\S+${path}\\?token=[A-Za-z0-9_-]+)`));
  assert.ok(m, `a ${path} link in: ${mail.text}`);
  return new URL(m[1]);
}

test('forgot password: one 202 for known and unknown addresses; the mailed link resets once and ends every session', async () => {
  const { email, password, res } = await signUp(gh);
  const oldRefresh = res.body.refresh_token;
  const oldAccess = res.body.access_token;
  const unknown = uniqueEmail('nobody');
  const a = await gh.json('POST', '/v1/password/forgot', { email }, { host: 'evil.example' });
  const b = await gh.json('POST', '/v1/password/forgot', { email: unknown });
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
  assert.equal(a.text, b.text, 'identical bodies');
  assert.deepEqual([...a.headers.keys()].filter((h) => h !== 'x-request-id' && h !== 'date').sort(),
    [...b.headers.keys()].filter((h) => h !== 'x-request-id' && h !== 'date').sort(), 'identical headers');

  const [mail] = await waitForMails(email, 2);  // the verification mail from sign-up, then the reset
  const resetMail = mailsTo(email).find((m) => m.subject === 'Reset your password');
  assert.ok(resetMail, 'a reset mail');
  const link = linkIn(resetMail, '/reset-password');
  assert.equal(link.origin, PUBLIC, 'the link is built from the configured public URL, not the Host header');
  assert.ok(mail);
  const token = link.searchParams.get('token');
  assert.ok(token.length >= 43, 'at least 256 bits');
  assert.equal(mailsTo(unknown).length, 0, 'nothing sent to an unknown address');

  // A weak password does not burn the link; then the reset works exactly once.
  const weak = await gh.json('POST', '/v1/password/reset', { token, new_password: 'short' });
  assert.equal(weak.status, 422, weak.text);
  const next = goodPassword('reset');
  const ok = await gh.json('POST', '/v1/password/reset', { token, new_password: next });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.user.email, email);
  const again = await gh.json('POST', '/v1/password/reset', { token, new_password: goodPassword('again') });
  assert.equal(again.status, 400);
  assert.equal(again.body.code, 'invalid_link');

  // Everything from before is gone; the new password works, the old one does not.
  assert.equal((await gh.json('GET', '/v1/me', undefined, { authorization: `Bearer ${oldAccess}` })).status, 401);
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: oldRefresh }, { 'token-transport': 'body' })).status, 401);
  assert.equal((await gh.json('POST', '/v1/login', { email, password })).status, 401);
  assert.equal((await gh.json('POST', '/v1/login', { email, password: next })).status, 200);
  // And the user is told.
  const notice = await waitForMails(email, 3);
  assert.ok(notice.some((m) => m.subject === 'Your password was changed'), 'a change notification');
});

test('reset links: a newer request does not void older ones, a reset voids them all; forged and malformed tokens fail the same way', async () => {
  const { email } = await signUp(gh);
  await waitForMails(email, 1);
  for (let i = 0; i < 2; i++) assert.equal((await gh.json('POST', '/v1/password/forgot', { email })).status, 202);
  const mails = (await waitForMails(email, 3)).filter((m) => m.subject === 'Reset your password');
  assert.equal(mails.length, 2);
  const [t1, t2] = mails.map((m) => linkIn(m, '/reset-password').searchParams.get('token'));
  assert.notEqual(t1, t2);
  assert.equal((await gh.json('POST', '/v1/password/reset', { token: t2, new_password: goodPassword('x') })).status, 200);
  const stale = await gh.json('POST', '/v1/password/reset', { token: t1, new_password: goodPassword('y') });
  assert.equal(stale.status, 400);
  for (const token of ['A'.repeat(43), 'not a token', 'x'.repeat(128)]) {
    const r = await gh.json('POST', '/v1/password/reset', { token, new_password: goodPassword('z') });
    assert.equal(r.status, 400, token);
    assert.equal(r.body.code, 'invalid_link');
  }
  assert.equal((await gh.json('POST', '/v1/password/reset', { token: 'x'.repeat(129), new_password: 'y' })).status, 400);
});

test('email verification: the mail from sign-up confirms the address once (the link page does not consume it)', async () => {
  const { email, res } = await signUp(gh);
  assert.equal(res.body.user.email_verified, false);
  const [mail] = await waitForMails(email, 1);
  assert.equal(mail.subject, 'Confirm your email address');
  const link = linkIn(mail, '/verify-email');
  assert.equal(link.origin, PUBLIC);
  const token = link.searchParams.get('token');
  // Opening the page (as a mail scanner would) shows a button and consumes nothing.
  const page = await fetch(gh.url(`/verify-email?token=${token}`));
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('referrer-policy'), 'strict-origin');
  assert.match(await page.clone().text(), /<meta name="referrer" content="strict-origin">/, 'the page does not loosen it');
  assert.match(await page.text(), /action="\/verify-email"/);
  const ok = await gh.json('POST', '/v1/email/verify', { token });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.user.email_verified, true);
  assert.equal((await gh.json('POST', '/v1/email/verify', { token })).status, 400, 'single use');
  const me = await gh.json('GET', '/v1/me', undefined, { authorization: `Bearer ${res.body.access_token}` });
  assert.equal(me.body.user.email_verified, true);
  // A reset token is not a verification token (and the other way round).
  assert.equal((await gh.json('POST', '/v1/password/reset', { token, new_password: goodPassword() })).status, 400);
});

test('hosted pages: forgot-password answers the same for any address; the reset form sets the password', async () => {
  const { email } = await signUp(gh);
  await waitForMails(email, 1);
  const form = await fetch(gh.url('/forgot-password'));
  const html = await form.text();
  const cookie = form.headers.getSetCookie().find((c) => c.startsWith('gh_form=')).split(';')[0];
  const csrf = html.match(/name="csrf" value="([^"]*)"/)[1];
  const post = (path, fields) => fetch(gh.url(path), {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PUBLIC, 'sec-fetch-site': 'same-origin', cookie },
    body: new URLSearchParams(fields).toString(),
  });
  const known = await post('/forgot-password', { csrf, email });
  const unknown = await post('/forgot-password', { csrf, email: uniqueEmail('nobody') });
  assert.equal(known.status, 200);
  assert.equal(unknown.status, 200);
  const strip = (s) => s.replace(/[A-Za-z0-9_-]{16}"/g, '');  // request ids
  assert.equal(strip(await known.text()), strip(await unknown.text()), 'the same page');
  const mail = (await waitForMails(email, 2)).find((m) => m.subject === 'Reset your password');
  const token = linkIn(mail, '/reset-password').searchParams.get('token');
  const resetPage = await fetch(gh.url(`/reset-password?token=${token}`), { headers: { cookie } });
  assert.equal(resetPage.status, 200);
  assert.equal(resetPage.headers.get('referrer-policy'), 'strict-origin');
  const resetCsrf = (await resetPage.text()).match(/name="csrf" value="([^"]*)"/)[1];
  const next = goodPassword('page');
  const done = await post('/reset-password', { csrf: resetCsrf, token, password: next });
  assert.equal(done.status, 303);
  assert.match(done.headers.get('location'), /notice=password_reset/);
  assert.equal((await gh.json('POST', '/v1/login', { email, password: next })).status, 200);
  assert.equal((await fetch(gh.url(`/reset-password?token=${token}`))).status, 400, 'a used link shows an error page');
});

test('reset links expire after 30 minutes (a second server on the same data, its clock 31 minutes ahead)', async () => {
  const { email } = await signUp(gh);
  await waitForMails(email, 1);
  assert.equal((await gh.json('POST', '/v1/password/forgot', { email })).status, 202);
  const mail = (await waitForMails(email, 2)).find((m) => m.subject === 'Reset your password');
  const token = linkIn(mail, '/reset-password').searchParams.get('token');
  await gh.stop({ keepData: true });
  const later = await new Server({ dataDir: join(dir, 'data'), env, faketime: '+31m' }).start();
  try {
    const r = await later.json('POST', '/v1/password/reset', { token, new_password: goodPassword('late') });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'invalid_link');
  } finally {
    await later.stop({ keepData: true });
    gh = await new Server({ dataDir: join(dir, 'data'), env }).start();
  }
});

test('at most 5 reset links per account per hour: the sixth request sends nothing (and is audited), older links stay valid', async () => {
  const { email, res } = await signUp(gh);
  await waitForMails(email, 1);
  for (let i = 0; i < 6; i++) assert.equal((await gh.json('POST', '/v1/password/forgot', { email })).status, 202);
  const id = res.body.user.id;
  // The jobs run after the answers: wait (bounded) for the throttled audit row, then count.
  const throttled = await until(
    () => cli(['audit', '--user', id, '--action', 'user.password_reset_request', '--data-dir', join(dir, 'data')]).out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((e) => e.result === 'throttled'),
    (rows) => rows.length > 0, { timeoutMs: 20000, stepMs: 100 });
  assert.equal(throttled.length, 1, 'one throttled request');
  const resets = (await waitForMails(email, 6)).filter((m) => m.subject === 'Reset your password');
  assert.equal(resets.length, 5);
  // The first link still works (asking again does not kill a victim's link).
  const first = linkIn(resets[0], '/reset-password').searchParams.get('token');
  assert.equal((await gh.json('POST', '/v1/password/reset', { token: first, new_password: goodPassword('first') })).status, 200);
});

test('accounts.require_verified_email: registration signs no one in and answers alike for taken addresses; sign-in waits for the mailed link', async () => {
  const own = await new Server({ env: { GATEHOUSE_ACCOUNTS_REQUIRE_VERIFIED_EMAIL: 'true' } }).start();  // outbox-directory mail
  try {
    const email = uniqueEmail('verify-first');
    const password = goodPassword('vf');
    const created = await own.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
    const again = await own.json('POST', '/v1/register', { email, password: goodPassword('other') }, { 'token-transport': 'body' });
    assert.equal(created.status, 202, created.text);
    assert.equal(again.status, 202, again.text);
    assert.equal(created.text, again.text, 'identical bodies for a new and a taken address');
    assert.equal(created.body.access_token, undefined, 'no tokens before the address is confirmed');
    assert.equal(created.headers.get('set-cookie'), null);
    assert.equal(again.headers.get('set-cookie'), null);
    const refused = await own.json('POST', '/v1/login', { email, password });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'email_not_verified');
    const wrong = await own.json('POST', '/v1/login', { email, password: `${password}x` });
    assert.equal(wrong.status, 401, 'a wrong password says nothing about the address');
    assert.equal(wrong.body.code, 'invalid_credentials');
    const outbox = join(own.dataDir, 'outbox');
    const files = await until(() => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []),
      (f) => f.length >= 2, { timeoutMs: 15000 });
    const mails = files.map((f) => parseEml(join(outbox, f)));
    assert.equal(mails.length, 2, 'a verification mail and a notice to the owner');
    const notice = mails.find((m) => m.subject === 'You already have an account');
    assert.ok(notice, 'the owner of the taken address is told');
    assert.doesNotMatch(notice.text, /token=/);
    const mail = mails.find((m) => m.subject !== 'You already have an account');
    const token = linkIn(mail, '/verify-email').searchParams.get('token');
    assert.equal((await own.json('POST', '/v1/email/verify', { token })).status, 200);
    assert.equal((await own.json('POST', '/v1/login', { email, password })).status, 200);

    // The owner is told at most 5 times an hour: each notice waits for its audit row
    // (the count the throttle reads), then the sixth attempt is throttled, not mailed.
    const auditRows = (result) => cli(['audit', '--action', 'user.register_attempt_notice', '--data-dir', own.dataDir])
      .out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.result === result);
    const untilRows = (result, n) => until(() => auditRows(result), (rows) => rows.length >= n, { timeoutMs: 20000, stepMs: 100 });
    for (let i = 2; i <= 6; i++) {
      assert.equal((await own.json('POST', '/v1/register', { email, password: goodPassword('again') })).status, 202);
      if (i <= 5) assert.equal((await untilRows('sent', i)).length, i, `notice ${i} audited`);
    }
    assert.equal((await untilRows('throttled', 1)).length, 1, 'the sixth is throttled');
    const notices = readdirSync(outbox).map((f) => parseEml(join(outbox, f))).filter((m) => m.subject === 'You already have an account');
    assert.equal(notices.length, 5, 'five notices, not six');
  } finally {
    await own.stop();
  }
});

test('email change: step-up, a link to the new address, a notice to the old one; no oracle for taken addresses; old links die', async () => {
  const { email, password, res } = await signUp(gh);
  const access = res.body.access_token;
  const other = await signUp(gh);
  const auth = { authorization: `Bearer ${access}` };

  // An address that already has an account: the same answer; its owner is told, nothing changes.
  const taken = await gh.json('POST', '/v1/email/change', { new_email: other.email }, auth);
  const moved = uniqueEmail('moved');
  const asked = await gh.json('POST', '/v1/email/change', { new_email: moved.toUpperCase() }, auth);
  assert.equal(taken.status, 202, taken.text);
  assert.equal(asked.status, 202, asked.text);
  assert.equal(taken.text, asked.text, 'identical answers');
  const warned = (await waitForMails(other.email, 2)).find((m) => m.subject === 'Someone tried to use your address');
  assert.ok(warned, 'the owner of the taken address is told');
  assert.doesNotMatch(warned.text, /token=/, 'and gets no link');
  assert.equal((await gh.json('POST', '/v1/login', { email: other.email, password: other.password })).status, 200);

  // Before the change: a reset link goes to the current address (it must die with the change).
  assert.equal((await gh.json('POST', '/v1/password/forgot', { email })).status, 202);
  const confirm = (await waitForMails(moved.toUpperCase(), 1)).find((m) => m.subject === 'Confirm your new email address');
  assert.ok(confirm, 'a confirmation link to the new address');
  const link = linkIn(confirm, '/confirm-email');
  assert.equal(link.origin, PUBLIC, 'built from the configured public URL');
  const mails = await waitForMails(email, 3);  // verification, change notice, reset
  assert.ok(mails.some((m) => m.subject === 'A change of your email address was requested'), 'the old address is told');
  const reset = linkIn(mails.find((m) => m.subject === 'Reset your password'), '/reset-password');

  // Nothing changes until the link is used.
  assert.equal((await gh.json('POST', '/v1/login', { email, password })).status, 200);
  const used = await gh.json('POST', '/v1/email/change/confirm', { token: link.searchParams.get('token') });
  assert.equal(used.status, 200, used.text);
  assert.equal(used.body.user.email, moved.toUpperCase());
  assert.equal(used.body.user.email_verified, true);
  const again = await gh.json('POST', '/v1/email/change/confirm', { token: link.searchParams.get('token') });
  assert.equal(again.status, 400);
  assert.equal(again.body.code, 'invalid_link');

  assert.equal((await gh.json('POST', '/v1/login', { email, password })).status, 401, 'the old address no longer signs in');
  assert.equal((await gh.json('POST', '/v1/login', { email: moved, password })).status, 200, 'the new one does');
  const stale = await gh.json('POST', '/v1/password/reset', { token: reset.searchParams.get('token'), new_password: goodPassword('stale') });
  assert.equal(stale.status, 400, 'a reset link sent to the old address is void');
  assert.equal(stale.body.code, 'invalid_link');

  // Step-up: eleven minutes later the same token may not ask for a change.
  const later = await new Server({ dataDir: join(dir, 'data'), env, faketime: '+11m' }).start();
  try {
    const late = await later.json('POST', '/v1/email/change', { new_email: uniqueEmail('late') }, auth);
    assert.equal(late.status, 401, late.text);
    assert.equal(late.body.code, 'reauthentication_required');
    assert.match(late.headers.get('www-authenticate') ?? '', /insufficient_user_authentication/);
  } finally {
    await later.stop({ keepData: true });
  }
  const bad = await gh.json('POST', '/v1/email/change', { new_email: 'not an address' }, auth);
  assert.equal(bad.status, 422, bad.text);
  assert.equal((await gh.json('POST', '/v1/email/change', { new_email: moved })).status, 401, 'needs a bearer token');
  // A pending change dies with a password change (the notice told the owner to change it).
  const fresh = await gh.json('POST', '/v1/login', { email: moved, password }, { 'token-transport': 'body' });
  const freshAuth = { authorization: `Bearer ${fresh.body.access_token}` };
  const hijack = uniqueEmail('hijack');
  assert.equal((await gh.json('POST', '/v1/email/change', { new_email: hijack }, freshAuth)).status, 202);
  const pending = linkIn((await waitForMails(hijack, 1))[0], '/confirm-email');
  const newPassword = goodPassword('changed');
  const changed = await gh.json('POST', '/v1/password/change', { current_password: password, new_password: newPassword }, freshAuth);
  assert.equal(changed.status, 200, changed.text);
  const late = await gh.json('POST', '/v1/email/change/confirm', { token: pending.searchParams.get('token') });
  assert.equal(late.status, 400, 'the link died with the password change');
  assert.equal(late.body.code, 'invalid_link');
  assert.equal((await gh.json('POST', '/v1/login', { email: moved, password: newPassword })).status, 200, 'the address stayed');

});
