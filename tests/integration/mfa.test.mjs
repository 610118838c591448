// Second factor over the JSON API (issue #8), against the real binary with a
// frozen clock (libfaketime) so every TOTP code is deterministic. Codes come
// from Debian's oathtool, an independent RFC 6238 implementation.
//
// Covered: enrolment (pending until the first code), sign-in challenge
// (403 mfa_required → /v1/login/mfa), amr in tokens, ±1 step accepted and
// ±2 refused, replay refused (also the enrolment code), the challenge token is
// single-use and not a session, recovery codes single-use and normalised,
// brute force hits lockout, parallel use of one code has one winner, the
// policy (platform admins and everyone), step-up for removal, admin reset,
// and secrets never stored in the clear. A forced enrolment needs the code
// mailed to the account (read from the server's outbox); a failed code mails
// the owner one notice per burst; a grant that makes MFA required ends the
// password-only sessions, and step-up refuses such a user until they enrol.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, cli, until } from './lib/server.mjs';
import { assertProblem, bearer, claims, register } from './lib/authz.mjs';

const T0 = Date.parse('2026-01-01T00:00:10Z') / 1000;  // the server's frozen clock
// A fixed public URL: the issuer stays the same when the server restarts on another port.
const FROZEN = { FAKETIME_DONT_FAKE_MONOTONIC: '1', GATEHOUSE_PUBLIC_URL: 'http://gatehouse.test' };

// The code of `secret` at T0 + offset seconds (oathtool, not our code).
function totp(secret, offset = 0) {
  const at = new Date((T0 + offset) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return execFileSync('oathtool', ['--totp', '-b', '-N', at, secret], { encoding: 'utf8' }).trim();
}

let gh;
before(async () => {
  gh = await new Server({ faketime: '2026-01-01 00:00:10', env: { ...FROZEN } }).start();
});
after(async () => { await gh?.stop(); });

const body = { 'token-transport': 'body' };

async function passwordStep(server, u) {
  return server.json('POST', '/v1/login', { email: u.email, password: u.password }, body);
}

// Registers a user and enrols an authenticator confirmed with the code at `confirmAt`.
async function enrolled(server, confirmAt = 0) {
  const u = await register(server, 'mfa');
  const begin = await server.json('POST', '/v1/mfa/totp', undefined, bearer(u.access));
  assert.equal(begin.status, 200, begin.text);
  u.secret = begin.body.secret;
  const ok = await server.json('POST', '/v1/mfa/totp/confirm', { code: totp(u.secret, confirmAt) }, bearer(u.access));
  assert.equal(ok.status, 200, ok.text);
  u.codes = ok.body.recovery_codes;
  return u;
}

// The mails in the server's outbox (the dev outbox mailer writes each one before it answers).
function outbox(server) {
  const dir = join(server.dataDir, 'outbox');
  let names = [];
  try { names = readdirSync(dir); } catch { return []; }
  // Bodies are quoted-printable: undo the soft line breaks and =XX escapes.
  const qp = (t) => t.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return names.map((n) => ({ name: n, text: qp(readFileSync(join(dir, n), 'utf8')) }));
}
function mailsTo(server, email, subject) {
  return outbox(server).filter((m) => m.text.includes(email) && m.text.includes(`Subject: ${subject}`));
}
const CODE_MAIL = 'Your code to set up two-step verification';
const FAILED_NOTICE = 'Someone got past your password but not your second step';

// The confirmation code of the enrolment-code mail to `email` that is not in `seen` (names).
function newEnrolmentCode(server, email, seen = new Set()) {
  const fresh = mailsTo(server, email, CODE_MAIL).filter((m) => !seen.has(m.name));
  assert.equal(fresh.length, 1, `one new code mail to ${email}`);
  const m = fresh[0].text.match(/code: (\d{4}) (\d{4})/);
  assert.ok(m, fresh[0].text);
  seen.add(fresh[0].name);
  return m[1] + m[2];
}

// `gatehouse user grant-admin` on the server's data dir. A user without a factor loses their
// sessions with it, so nothing waits for their old token to gain admin rights.
function grantAdmin(server, u) {
  const r = cli(['user', 'grant-admin', u.email, '--data-dir', server.dataDir], { env: server.env });
  assert.equal(r.code, 0, `grant-admin: ${r.err}`);
}

// A forced enrolment through the JSON API: the password step, the mailed code, the first TOTP code.
async function forcedEnrolment(server, u, path = '/v1/login') {
  const seen = new Set(mailsTo(server, u.email, CODE_MAIL).map((m) => m.name));
  const r = await server.json('POST', path, { email: u.email, password: u.password }, body);
  assertProblem(r, 403, 'mfa_enrollment_required');
  assert.equal(r.body.email_code_required, true);
  const en = await server.json('POST', '/v1/login/mfa/enroll', { mfa_token: r.body.mfa_token });
  assert.equal(en.status, 200, en.text);
  u.secret = en.body.secret;
  return { token: r.body.mfa_token, secret: en.body.secret, emailCode: newEnrolmentCode(server, u.email, seen), seen };
}

async function challenge(server, u) {
  const r = await passwordStep(server, u);
  assertProblem(r, 403, 'mfa_required', 'password step');
  return r.body.mfa_token;
}

test('enrolment: pending until the first code; the URI carries the secret; 10 distinct recovery codes', async () => {
  const u = await register(gh, 'mfa');
  const status0 = await gh.json('GET', '/v1/mfa', undefined, bearer(u.access));
  assert.deepEqual(status0.body, { totp: false, recovery_codes_left: 0, required: false });

  const begin = await gh.json('POST', '/v1/mfa/totp', undefined, bearer(u.access));
  assert.equal(begin.status, 200, begin.text);
  const { secret, otpauth_uri: uri } = begin.body;
  assert.match(secret, /^[A-Z2-7]{32}$/, '160-bit base32 secret');
  const parsed = new URL(uri);
  assert.equal(parsed.protocol, 'otpauth:');
  assert.equal(parsed.searchParams.get('secret'), secret);
  assert.equal(parsed.searchParams.get('issuer'), 'Gatehouse');
  assert.ok(decodeURIComponent(parsed.pathname).includes(u.email));
  // Asking again while pending shows the same authenticator (a reloaded page keeps its QR code).
  const again = await gh.json('POST', '/v1/mfa/totp', undefined, bearer(u.access));
  assert.equal(again.body.secret, secret);

  // Pending is not a factor: sign-in still needs only the password.
  assert.equal((await passwordStep(gh, u)).status, 200);

  const wrong = await gh.json('POST', '/v1/mfa/totp/confirm', { code: totp(secret, 90) }, bearer(u.access));
  assertProblem(wrong, 401, 'invalid_mfa_code', 'a code three steps ahead');
  const bad = await gh.json('POST', '/v1/mfa/totp/confirm', { code: 'abcdef' }, bearer(u.access));
  assertProblem(bad, 401, 'invalid_mfa_code', 'not digits');

  const ok = await gh.json('POST', '/v1/mfa/totp/confirm', { code: totp(secret) }, bearer(u.access));
  assert.equal(ok.status, 200, ok.text);
  const codes = ok.body.recovery_codes;
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) assert.match(c, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);

  const status1 = await gh.json('GET', '/v1/mfa', undefined, bearer(u.access));
  assert.deepEqual(status1.body, { totp: true, recovery_codes_left: 10, required: false });
  // The owner is told: the dev server's outbox mailer writes <data_dir>/outbox/*.eml before it answers.
  const outbox = join(gh.dataDir, 'outbox');
  const notice = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8'))
    .find((m) => m.includes('Subject: Two-step verification is on') && m.includes(u.email));
  assert.ok(notice, 'a notice mail to the owner');
  assert.ok(!notice.includes(secret), 'without the secret');
  const twice = await gh.json('POST', '/v1/mfa/totp', undefined, bearer(u.access));
  assertProblem(twice, 409, 'mfa_already_enrolled');
});

test('sign-in: the password step gives a challenge, not tokens; the code completes it with amr', async () => {
  const u = await enrolled(gh);
  const r = await passwordStep(gh, u);
  assertProblem(r, 403, 'mfa_required');
  assert.equal(r.body.access_token, undefined);
  assert.equal(r.body.refresh_token, undefined);
  assert.equal(r.headers.get('set-cookie'), null, 'no session or refresh cookie');
  assert.deepEqual(r.body.methods, ['totp', 'recovery_code']);
  assert.equal(r.body.expires_in, 300);
  const token = r.body.mfa_token;

  // The challenge is not a credential anywhere else.
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(token))).status, 401);
  const asCookie = await fetch(gh.url('/v1/session'), { headers: { cookie: `gh_session=${token}; __Host-gh_session=${token}` } });
  assert.equal(asCookie.status, 401);
  const asRefresh = await gh.json('POST', '/v1/token/refresh', { refresh_token: token }, body);
  assert.equal(asRefresh.status, 401);

  // The step used to confirm enrolment is spent: replay refused.
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(u.secret) }, body), 401, 'invalid_mfa_code', 'enrolment code replayed');
  // A wrong code leaves the challenge usable.
  const done = await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(u.secret, 30) }, body);
  assert.equal(done.status, 200, done.text);
  const c = claims(done.body.access_token);
  assert.deepEqual(c.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(c.sub, u.id);
  assert.ok(done.body.refresh_token);
  // amr survives a refresh rotation.
  const rotated = await gh.json('POST', '/v1/token/refresh', { refresh_token: done.body.refresh_token }, body);
  assert.equal(rotated.status, 200, rotated.text);
  assert.deepEqual(claims(rotated.body.access_token).amr, ['pwd', 'otp', 'mfa']);

  // Single use: the same challenge cannot sign in twice.
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(u.secret, -30) }, body), 401, 'invalid_mfa_token', 'used challenge');
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: 'x'.repeat(43), code: '123456' }, body), 401, 'invalid_mfa_token', 'unknown challenge');
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: '1', extra: 1 }, body), 400, 'unknown_field');
});

test('clock skew: ±1 step accepted, ±2 refused; each step once', async () => {
  const u = await enrolled(gh, -30);  // enrolment used step -1
  const token = await challenge(gh, u);
  for (const offset of [-60, 60, -30]) {
    const r = await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(u.secret, offset) }, body);
    assertProblem(r, 401, 'invalid_mfa_code', `offset ${offset}s`);
  }
  const ok = await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(u.secret, 0) }, body);
  assert.equal(ok.status, 200, ok.text);
  // The current step is now spent; the next one (+30 s) still works; then nothing is left in the window.
  const t2 = await challenge(gh, u);
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: t2, code: totp(u.secret, 0) }, body), 401, 'invalid_mfa_code', 'replay');
  assert.equal((await gh.json('POST', '/v1/login/mfa', { mfa_token: t2, code: totp(u.secret, 30) }, body)).status, 200);
  const t3 = await challenge(gh, u);
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: t3, code: totp(u.secret, 30) }, body), 401, 'invalid_mfa_code', 'replay +30');
});

test('recovery codes: single use, typed loosely, counted down, regenerating invalidates the old set', async () => {
  const u = await enrolled(gh);
  const loose = u.codes[0].replaceAll('-', ' ').toUpperCase();
  const r = await gh.json('POST', '/v1/login/mfa', { mfa_token: await challenge(gh, u), recovery_code: loose }, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.recovery_codes_left, 9);
  assert.deepEqual(claims(r.body.access_token).amr, ['pwd', 'mfa']);
  const reuse = await gh.json('POST', '/v1/login/mfa', { mfa_token: await challenge(gh, u), recovery_code: u.codes[0] }, body);
  assertProblem(reuse, 401, 'invalid_mfa_code', 'used recovery code');

  // Regenerating needs a recent authentication (the frozen clock makes this one recent).
  const fresh = await gh.json('POST', '/v1/mfa/recovery-codes', undefined, bearer(r.body.access_token));
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.body.recovery_codes.length, 10);
  const old = await gh.json('POST', '/v1/login/mfa', { mfa_token: await challenge(gh, u), recovery_code: u.codes[1] }, body);
  assertProblem(old, 401, 'invalid_mfa_code', 'code from the old set');
  const next = await gh.json('POST', '/v1/login/mfa', { mfa_token: await challenge(gh, u), recovery_code: fresh.body.recovery_codes[9] }, body);
  assert.equal(next.status, 200, next.text);
  assert.equal(next.body.recovery_codes_left, 9);
});

test('brute force: failed codes lock the second step (the right code then fails too)', async () => {
  const u = await enrolled(gh);
  const token = await challenge(gh, u);
  for (let i = 0; i < 5; i++) {
    const r = await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: String(100000 + i) }, body);
    assertProblem(r, 401, 'invalid_mfa_code', `guess ${i}`);
  }
  // Re-entering the password does not reset the count: the lock is on the second factor.
  const again = await challenge(gh, u);
  const right = await gh.json('POST', '/v1/login/mfa', { mfa_token: again, code: totp(u.secret, 30) }, body);
  assertProblem(right, 401, 'invalid_mfa_code', 'right code while locked');
  const right2 = await gh.json('POST', '/v1/login/mfa', { mfa_token: token, recovery_code: u.codes[0] }, body);
  assertProblem(right2, 401, 'invalid_mfa_code', 'recovery code while locked');
});

test('one code, many parallel challenges: exactly one sign-in', async () => {
  const u = await enrolled(gh);
  const tokens = [];
  for (let i = 0; i < 8; i++) tokens.push(await challenge(gh, u));
  const code = totp(u.secret, 30);
  const results = await Promise.all(tokens.map((t) => gh.json('POST', '/v1/login/mfa', { mfa_token: t, code }, body)));
  assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 200)) assertProblem(r, 401, 'invalid_mfa_code');
});

test('secrets at rest: neither the TOTP secret nor recovery codes are stored in the clear', async () => {
  const u = await enrolled(gh);
  const raw = Buffer.from(u.secret.replace(/=+$/, ''), 'utf8');
  const secretHex = Buffer.from(base32Decode(u.secret)).toString('hex');
  let checked = 0;
  for (const f of readdirSync(gh.dataDir)) {
    if (!f.startsWith('gatehouse.db')) continue;
    const bytes = readFileSync(join(gh.dataDir, f));
    checked += 1;
    assert.equal(bytes.indexOf(raw), -1, `base32 secret in ${f}`);
    assert.equal(bytes.indexOf(Buffer.from(base32Decode(u.secret))), -1, `raw secret bytes in ${f}`);
    assert.equal(bytes.indexOf(Buffer.from(secretHex)), -1, `hex secret in ${f}`);
    for (const c of u.codes) {
      assert.equal(bytes.indexOf(Buffer.from(c)), -1, `recovery code in ${f}`);
      assert.equal(bytes.indexOf(Buffer.from(c.replaceAll('-', ''))), -1, `recovery code in ${f}`);
    }
  }
  assert.ok(checked >= 1, 'found the database files');
});

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0; let value = 0; const out = [];
  for (const ch of s.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return out;
}

test('policy: a platform admin must enrol at sign-in, with the code mailed to the account; it cannot be skipped', async () => {
  const a = await register(gh, 'mfa-admin');
  grantAdmin(gh, a);
  // The grant ended the password-only sessions (no factor yet): the old tokens stop working.
  assertProblem(await gh.json('POST', '/v1/token/refresh', { refresh_token: a.refresh }, body), 401, 'invalid_refresh_token');
  const me = await until(() => gh.json('GET', '/v1/me', undefined, bearer(a.access)), (x) => x.status === 401);
  assert.equal(me.status, 401, 'the old access token is revoked');

  const seen = new Set();
  const r = await passwordStep(gh, a);
  assertProblem(r, 403, 'mfa_enrollment_required');
  assert.deepEqual(r.body.methods, ['totp']);
  assert.equal(r.body.email_code_required, true);
  assert.equal(r.body.expires_in, 900, 'as long as the mailed code');
  const token = r.body.mfa_token;
  const mailed = newEnrolmentCode(gh, a.email, seen);
  const codeMail = mailsTo(gh, a.email, CODE_MAIL)[0].text;
  assert.ok(!codeMail.includes(token), 'the challenge is not in the mail');
  assert.match(codeMail, /forgot-password/, 'tells a victim what to do');
  // Without enrolling first there is nothing to confirm.
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: '000000', email_code: mailed }, body), 409, 'mfa_not_enrolled');
  const en = await gh.json('POST', '/v1/login/mfa/enroll', { mfa_token: token });
  assert.equal(en.status, 200, en.text);
  const right = totp(en.body.secret);

  // The holder of the password alone: no mailed code, a wrong one, another challenge's one.
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: right }, body), 401, 'email_code_required');
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: right, email_code: mailed === '12345678' ? '87654321' : '12345678' }, body), 401, 'invalid_email_code');
  const other = await passwordStep(gh, a);
  const otherCode = newEnrolmentCode(gh, a.email, seen);
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: right, email_code: otherCode }, body), 401, 'invalid_email_code', 'code of another challenge');
  assertProblem(await gh.json('POST', '/v1/session/login/mfa', { mfa_token: token, code: right, email_code: 'abc' }), 401, 'invalid_email_code', 'not digits');
  // No factor was activated by any of these: the next password step still asks for enrolment.
  assertProblem(await passwordStep(gh, a), 403, 'mfa_enrollment_required');
  newEnrolmentCode(gh, a.email, seen);
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(en.body.secret, 120), email_code: mailed }, body), 401, 'invalid_mfa_code');

  const done = await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: right, email_code: `${mailed.slice(0, 4)}-${mailed.slice(4)}` }, body);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.recovery_codes.length, 10);
  assert.deepEqual(claims(done.body.access_token).amr, ['pwd', 'otp', 'mfa']);
  const st = await gh.json('GET', '/v1/mfa', undefined, bearer(done.body.access_token));
  assert.deepEqual(st.body, { totp: true, recovery_codes_left: 10, required: true });
  // Reused: the challenge and its code are spent; the other challenge cannot enrol a second factor.
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(en.body.secret, 30), email_code: mailed }, body), 401, 'invalid_mfa_token');
  assertProblem(await gh.json('POST', '/v1/login/mfa/enroll', { mfa_token: token }), 401, 'invalid_mfa_token');
  assertProblem(await gh.json('POST', '/v1/login/mfa/enroll', { mfa_token: other.body.mfa_token }), 409, 'mfa_already_enrolled');
  assertProblem(await passwordStep(gh, a), 403, 'mfa_required', 'enrolled admin');
  // Lockout counted the wrong mailed codes; none of it is in the audit trail as a code.
  const audit = await until(() => gh.json('GET', `/v1/admin/audit?user=${a.id}&action=mfa.enrol_code`, undefined, bearer(done.body.access_token)),
    (x) => x.status === 200 && x.body.events.some((e) => e.result === 'accepted'));
  assert.equal(audit.status, 200, audit.text);
  const results = audit.body.events.map((e) => e.result);
  for (const want of ['sent', 'missing', 'invalid', 'accepted']) assert.ok(results.includes(want), `${want} in ${results}`);
  assert.ok(!audit.text.includes(mailed), 'the code is not audited');
  // Stored only as an HMAC bound to the challenge: the code itself is not in the database.
  for (const f of readdirSync(gh.dataDir).filter((n) => n.startsWith('gatehouse.db'))) {
    assert.equal(readFileSync(join(gh.dataDir, f)).indexOf(Buffer.from(mailed)), -1, `mailed code in ${f}`);
  }
});

test('mfa.enrollment_requires_email_code = false: the forced enrolment takes the first code alone (and no mail)', async () => {
  const off = await new Server({ faketime: '2026-01-01 00:00:10', env: { ...FROZEN, GATEHOUSE_MFA_ENROLLMENT_REQUIRES_EMAIL_CODE: 'false' } }).start();
  try {
    const a = await register(off, 'mfa-nocode');
    grantAdmin(off, a);
    const r = await passwordStep(off, a);
    assertProblem(r, 403, 'mfa_enrollment_required');
    assert.equal(r.body.email_code_required, false);
    assert.equal(r.body.expires_in, 300);
    const en = await off.json('POST', '/v1/login/mfa/enroll', { mfa_token: r.body.mfa_token });
    const done = await off.json('POST', '/v1/login/mfa', { mfa_token: r.body.mfa_token, code: totp(en.body.secret) }, body);
    assert.equal(done.status, 200, done.text);
    assert.equal(mailsTo(off, a.email, CODE_MAIL).length, 0);
  } finally {
    await off.stop();
  }
});

test('admin reset: a platform admin removes a user\'s factor (step-up, audited); others are refused', async () => {
  const a = await register(gh, 'mfa-resetter');
  grantAdmin(gh, a);
  const f = await forcedEnrolment(gh, a);
  const signed = await gh.json('POST', '/v1/login/mfa', { mfa_token: f.token, code: totp(f.secret), email_code: f.emailCode }, body);
  assert.equal(signed.status, 200, signed.text);
  const adminToken = signed.body.access_token;

  const u = await enrolled(gh);
  const other = await register(gh, 'mfa-nobody');
  assertProblem(await gh.json('DELETE', `/v1/admin/users/${u.id}/mfa`, undefined, bearer(other.access)), 403, 'forbidden');
  assert.equal((await gh.json('DELETE', `/v1/admin/users/${u.id}/mfa`, undefined, bearer(adminToken))).status, 204);
  assertProblem(await gh.json('DELETE', `/v1/admin/users/${u.id}/mfa`, undefined, bearer(adminToken)), 409, 'mfa_not_enrolled');
  assertProblem(await gh.json('DELETE', '/v1/admin/users/00000000-0000-4000-8000-000000000000/mfa', undefined, bearer(adminToken)), 404, 'not_found');
  assert.equal((await passwordStep(gh, u)).status, 200, 'password alone again');
  const audit = await gh.json('GET', `/v1/admin/audit?user=${u.id}&action=mfa.reset`, undefined, bearer(adminToken));
  assert.equal(audit.status, 200, audit.text);
  assert.ok(audit.body.events.some((e) => e.action === 'mfa.reset' && e.result === 'success' && e.actor === a.id), audit.text);
});

test('a wrong second factor mails the owner one notice per burst, with no secret in it', async () => {
  const u = await enrolled(gh);
  const token = await challenge(gh, u);
  for (let i = 0; i < 3; i++) {
    assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: String(300000 + i) }, body), 401, 'invalid_mfa_code');
  }
  assertProblem(await gh.json('POST', '/v1/login/mfa', { mfa_token: token, recovery_code: 'aaaa-bbbb-cccc-dddd' }, body), 401, 'invalid_mfa_code');
  const notices = mailsTo(gh, u.email, FAILED_NOTICE);
  assert.equal(notices.length, 1, 'one notice for the burst');
  const text = notices[0].text;
  assert.match(text, /change your password now at http:\/\/gatehouse\.test\/forgot-password/);
  assert.ok(!text.includes(u.secret) && !text.includes(token), 'no secret and no challenge in it');
  for (const c of u.codes) assert.ok(!text.includes(c), 'no recovery code in it');
  // The right code signs in and sends nothing more.
  assert.equal((await gh.json('POST', '/v1/login/mfa', { mfa_token: token, code: totp(u.secret, 30) }, body)).status, 200);
  assert.equal(mailsTo(gh, u.email, FAILED_NOTICE).length, 1);
});

test('failed-code notices stop at the per-account hourly limit (audited as throttled)', async () => {
  // Without lockout windows every failure would mail: only the hourly limit (5) bounds them.
  const s = await new Server({ faketime: '2026-01-01 00:00:10', env: { ...FROZEN, GATEHOUSE_LOCKOUT_ENABLED: 'false' } }).start();
  try {
    const u = await enrolled(s);
    const token = await challenge(s, u);
    const rows = () => {
      const r = cli(['audit', '--data-dir', s.dataDir, '--user', u.id, '--action', 'mfa.failed_notice']);
      assert.equal(r.code, 0, r.err);
      return r.out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    };
    for (let i = 0; i < 7; i++) {
      assertProblem(await s.json('POST', '/v1/login/mfa', { mfa_token: token, code: String(400000 + i) }, body), 401, 'invalid_mfa_code');
      // The limit is counted in the audit log, written in the background: wait for this row.
      const seen = await until(rows, (x) => x.length === i + 1);
      assert.equal(seen.length, i + 1);
    }
    assert.equal(mailsTo(s, u.email, FAILED_NOTICE).length, 5);
    assert.deepEqual(rows().map((e) => e.result), ['sent', 'sent', 'sent', 'sent', 'sent', 'throttled', 'throttled']);
  } finally {
    await s.stop();
  }
});

// A session cookie and tokens for `u` (password only).
async function sessionCookie(server, u) {
  const r = await server.json('POST', '/v1/session/login', { email: u.email, password: u.password });
  assert.equal(r.status, 200, r.text);
  return (r.headers.get('set-cookie') ?? '').split(';')[0];
}

test('a tenant admin grant ends the password-only sessions and tokens of a user without a factor (audited)', async () => {
  const p = await register(gh, 'mfa-granter');
  grantAdmin(gh, p);
  const f = await forcedEnrolment(gh, p);
  const signed = await gh.json('POST', '/v1/login/mfa', { mfa_token: f.token, code: totp(f.secret), email_code: f.emailCode }, body);
  assert.equal(signed.status, 200, signed.text);
  const admin = bearer(signed.body.access_token);
  const t = await gh.json('POST', '/v1/tenants', { name: `mfa-grants-${Date.now()}` }, admin);
  assert.equal(t.status, 201, t.text);
  const tenant = t.body.tenant.id;

  const u = await register(gh, 'mfa-promoted');
  const cookie = await sessionCookie(gh, u);
  // A role the policy does not cover changes nothing.
  assert.equal((await gh.json('POST', `/v1/tenants/${tenant}/members`, { user_id: u.id, role: 'member' }, admin)).status, 201);
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(u.access))).status, 200);
  assert.equal((await fetch(gh.url('/v1/session'), { headers: { cookie } })).status, 200);
  // Promoted to admin (MFA required) without a factor: every session and token ends.
  const promote = await gh.json('PATCH', `/v1/tenants/${tenant}/members/${u.id}`, { role: 'admin' }, admin);
  assert.equal(promote.status, 200, promote.text);
  assertProblem(await gh.json('GET', '/v1/me', undefined, bearer(u.access)), 401, 'invalid_token');
  assertProblem(await gh.json('POST', '/v1/token/refresh', { refresh_token: u.refresh }, body), 401, 'invalid_refresh_token');
  assert.equal((await fetch(gh.url('/v1/session'), { headers: { cookie } })).status, 401, 'the browser session ended');
  // The next sign-in goes to enrolment.
  assertProblem(await passwordStep(gh, u), 403, 'mfa_enrollment_required');
  const audit = await until(() => gh.json('GET', `/v1/admin/audit?user=${u.id}&action=mfa.policy_logout`, undefined, admin),
    (x) => x.status === 200 && x.body.events.length > 0);
  assert.equal(audit.status, 200, audit.text);
  assert.deepEqual(audit.body.events.map((e) => [e.result, e.actor]), [['role_grant', p.id]]);

  // A user who already has a factor keeps their sessions when made admin.
  const v = await enrolled(gh);
  assert.equal((await gh.json('POST', `/v1/tenants/${tenant}/members`, { user_id: v.id, role: 'admin' }, admin)).status, 201);
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(v.access))).status, 200);
});

test('step-up refuses a user the policy now requires a factor of, until they enrol', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-mfa-stepup-'));
  let s = await new Server({ dataDir: dir, faketime: '2026-01-01 00:00:10', env: { ...FROZEN } }).start();
  try {
    const u = await register(s, 'mfa-policy-change');
    assert.equal((await s.json('POST', '/v1/reauthenticate', { password: u.password }, bearer(u.access))).status, 200, 'not required yet');
    // The operator turns on MFA for everyone: the token from before is still valid, but step-up is not.
    await s.stop({ keepData: true });
    s = await new Server({ dataDir: dir, faketime: '2026-01-01 00:00:10', env: { ...FROZEN, GATEHOUSE_MFA_REQUIRED_FOR_ALL: 'true' } }).start();
    assertProblem(await s.json('POST', '/v1/reauthenticate', { password: u.password }, bearer(u.access)), 403, 'mfa_enrollment_required');
    assertProblem(await s.json('POST', '/v1/reauthenticate', { password: u.password, code: '123456' }, bearer(u.access)), 403, 'mfa_enrollment_required');
    assertProblem(await s.json('POST', '/v1/reauthenticate', { password: 'not-the-password-at-all' }, bearer(u.access)), 401, 'invalid_credentials', 'password first');
    // Enrolled through the sign-in flow, step-up takes password + code.
    const f = await forcedEnrolment(s, u);
    const done = await s.json('POST', '/v1/login/mfa', { mfa_token: f.token, code: totp(f.secret), email_code: f.emailCode }, body);
    assert.equal(done.status, 200, done.text);
    assertProblem(await s.json('POST', '/v1/reauthenticate', { password: u.password }, bearer(done.body.access_token)), 401, 'mfa_code_required');
    assert.equal((await s.json('POST', '/v1/reauthenticate', { password: u.password, code: totp(f.secret, 30) }, bearer(done.body.access_token))).status, 200);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('step-up: removing the factor needs a recent authentication that includes the code', async () => {
  const dataDir = gh.dataDir;
  const u = await enrolled(gh);
  const done = await gh.json('POST', '/v1/login/mfa', { mfa_token: await challenge(gh, u), code: totp(u.secret, 30) }, body);
  assert.equal(done.status, 200);
  // Eleven minutes later (the same data, the server restarted with its clock moved on).
  await gh.stop({ keepData: true });
  gh = await new Server({ dataDir, faketime: '2026-01-01 00:11:10', env: { ...FROZEN } }).start();
  const later = 660;
  const stale = await gh.json('DELETE', '/v1/mfa/totp', undefined, bearer(done.body.access_token));
  assertProblem(stale, 401, 'reauthentication_required');
  assertProblem(await gh.json('POST', '/v1/mfa/recovery-codes', undefined, bearer(done.body.access_token)), 401, 'reauthentication_required');
  // The password alone is not enough for a user with an authenticator.
  const pwOnly = await gh.json('POST', '/v1/reauthenticate', { password: u.password }, bearer(done.body.access_token));
  assertProblem(pwOnly, 401, 'mfa_code_required');
  const wrong = await gh.json('POST', '/v1/reauthenticate', { password: u.password, code: totp(u.secret, 30) }, bearer(done.body.access_token));
  assertProblem(wrong, 401, 'invalid_mfa_code', 'an old code');
  const re = await gh.json('POST', '/v1/reauthenticate', { password: u.password, code: totp(u.secret, later) }, bearer(done.body.access_token));
  assert.equal(re.status, 200, re.text);
  assert.deepEqual(claims(re.body.access_token).amr, ['pwd', 'otp', 'mfa']);
  assert.equal((await gh.json('DELETE', '/v1/mfa/totp', undefined, bearer(re.body.access_token))).status, 204);
  assert.equal((await passwordStep(gh, u)).status, 200, 'no second step any more');
  const st = await gh.json('GET', '/v1/mfa', undefined, bearer(re.body.access_token));
  assert.deepEqual(st.body, { totp: false, recovery_codes_left: 0, required: false });
});

test('mfa.required_for_all: every new account enrols before it gets tokens or a session', async () => {
  const all = await new Server({ faketime: '2026-01-01 00:00:10', env: { ...FROZEN, GATEHOUSE_MFA_REQUIRED_FOR_ALL: 'true' } }).start();
  try {
    const email = `all.${process.pid}.${Date.now()}@example.test`;
    const reg = await all.json('POST', '/v1/register', { email, password: 'violet-harbor-tangerine-everyone' }, body);
    assertProblem(reg, 403, 'mfa_enrollment_required');
    assert.equal(reg.body.access_token, undefined);
    const seen = new Set();
    newEnrolmentCode(all, email, seen);
    const s = await all.json('POST', '/v1/session/login', { email, password: 'violet-harbor-tangerine-everyone' });
    assertProblem(s, 403, 'mfa_enrollment_required');
    assert.equal(s.headers.get('set-cookie'), null);
    assert.equal(s.body.email_code_required, true);
    const en = await all.json('POST', '/v1/login/mfa/enroll', { mfa_token: s.body.mfa_token });
    // Registration mailed a code for its own challenge; the session sign-in's is the new one.
    const done = await all.json('POST', '/v1/session/login/mfa', { mfa_token: s.body.mfa_token, code: totp(en.body.secret), email_code: newEnrolmentCode(all, email, seen) });
    assert.equal(done.status, 200, done.text);
    assert.match(done.headers.get('set-cookie') ?? '', /gh_session=/);
    assert.equal(done.body.recovery_codes.length, 10);
  } finally {
    await all.stop();
  }
});

test('rate limit: second-factor attempts per IP are limited (429) before lockout', async () => {
  const rl = await new Server({
    faketime: '2026-01-01 00:00:10',
    env: { ...FROZEN, GATEHOUSE_RATE_LIMIT_ENABLED: 'true', GATEHOUSE_RATE_LIMIT_MFA_PER_IP: '4/15m', GATEHOUSE_LOCKOUT_PER_SOURCE: '50' },
  }).start();
  try {
    const u = await enrolled(rl);
    const token = await challenge(rl, u);
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await rl.json('POST', '/v1/login/mfa', { mfa_token: token, code: String(200000 + i) }, body)).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
  } finally {
    await rl.stop();
  }
});
