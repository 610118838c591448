// The user.login audit events of a password sign-in: `success` only once the
// session or tokens exist; a verified password followed by a second factor is
// `user.login.mfa_pending`, and its `success` comes after the code. (The same
// for a provider sign-in: tests/integration/oauth_rp.test.mjs, the MFA test.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Server, uniqueEmail, goodPassword, until } from './lib/server.mjs';
import { audit } from './lib/oauth.mjs';

let gh;
before(async () => { gh = await new Server().start(); });
after(async () => { await gh?.stop(); });

const totpAt = (secret, t) => execFileSync('oathtool', ['--totp', '-b', '-N', `@${t}`, secret], { encoding: 'utf8' }).trim();
const loginRows = (userId) => audit(gh, ['--user', userId]).filter((e) => e.action.startsWith('user.login'));
const successes = (userId) => loginRows(userId).filter((e) => e.action === 'user.login' && e.result === 'success');

test('password sign-in: user.login success with the tokens or session; with MFA, mfa_pending first and success after the code', async () => {
  const email = uniqueEmail('loginaudit');
  const password = goodPassword();
  const reg = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(reg.status, 201, reg.text);
  const userId = reg.body.user.id;
  assert.equal(loginRows(userId).length, 0, 'registration is not a user.login');

  // A wrong password: a failure row, no success.
  const wrong = await gh.json('POST', '/v1/login', { email, password: `${password}x` });
  assert.equal(wrong.status, 401);
  await until(() => loginRows(userId), (r) => r.some((e) => e.result === 'wrong_password'));

  // No second factor: tokens, and one success (subject: the user).
  const ok = await gh.json('POST', '/v1/login', { email, password }, { 'token-transport': 'body' });
  assert.equal(ok.status, 200, ok.text);
  const first = await until(() => successes(userId), (r) => r.length === 1);
  assert.equal(first.length, 1);
  assert.equal(first[0].subject, userId);

  // Enrol an authenticator.
  const auth = { authorization: `Bearer ${ok.body.access_token}` };
  const begin = await gh.json('POST', '/v1/mfa/totp', undefined, auth);
  assert.equal(begin.status, 200, begin.text);
  const now = Math.floor(Date.now() / 1000);
  const confirm = await gh.json('POST', '/v1/mfa/totp/confirm', { code: totpAt(begin.body.secret, now) }, auth);
  assert.equal(confirm.status, 200, confirm.text);

  // The right password now only opens the second step: mfa_pending, no success.
  const step = await gh.json('POST', '/v1/login', { email, password }, { 'token-transport': 'body' });
  assert.equal(step.status, 403, step.text);
  assert.equal(step.body.code, 'mfa_required');
  const pending = await until(() => loginRows(userId), (r) => r.some((e) => e.action === 'user.login.mfa_pending'));
  const pendingRow = pending.find((e) => e.action === 'user.login.mfa_pending');
  assert.ok(pendingRow, JSON.stringify(pending));
  assert.equal(pendingRow.result, 'verify');
  assert.equal(pendingRow.subject, userId);
  assert.equal(successes(userId).length, 1, 'no success while the second factor is pending');

  // The same through the cookie-session endpoint.
  const sessionStep = await fetch(`${gh.base}/v1/session/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: gh.base }, body: JSON.stringify({ email, password }),
  });
  assert.equal(sessionStep.status, 403);
  assert.equal((await sessionStep.json()).code, 'mfa_required');
  assert.ok(!sessionStep.headers.getSetCookie().some((c) => /gh_session=[^;]/.test(c)));
  await until(() => loginRows(userId), (r) => r.filter((e) => e.action === 'user.login.mfa_pending').length === 2);
  assert.equal(successes(userId).length, 1);

  // A wrong code: still no success.
  const good = totpAt(begin.body.secret, now + 30);
  const wrongCode = String((Number(good) + 1) % 1000000).padStart(6, '0');
  const bad = await gh.json('POST', '/v1/login/mfa', { mfa_token: step.body.mfa_token, code: wrongCode });
  assert.equal(bad.status, 401, bad.text);
  assert.equal(successes(userId).length, 1);

  // The code: tokens, and now the success.
  const done = await gh.json('POST', '/v1/login/mfa', { mfa_token: step.body.mfa_token, code: good }, { 'token-transport': 'body' });
  assert.equal(done.status, 200, done.text);
  assert.ok(done.body.access_token);
  const after2 = await until(() => successes(userId), (r) => r.length === 2);
  assert.equal(after2.length, 2);
  assert.ok(after2[1].id > pendingRow.id, 'the success comes after the pending step');
  assert.equal(after2[1].subject, userId);
});
