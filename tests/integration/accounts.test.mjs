// Accounts over HTTP against the real binary: register, login, duplicates,
// enumeration resistance, restart persistence.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Server, uniqueEmail, goodPassword } from './lib/server.mjs';

let gh;
before(async () => { gh = await new Server().start(); });
after(async () => { assert.equal(await gh.stop(), 0); });

function withoutRequestId(body) {
  const { request_id: _ignored, ...rest } = body;
  return rest;
}

test('register returns 201 with the user and no secret', async () => {
  const email = uniqueEmail('reg');
  const r = await gh.json('POST', '/v1/register', { email, password: goodPassword(), name: 'Ada' });
  assert.equal(r.status, 201, r.text);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.ok(r.headers.get('x-request-id'));
  assert.equal(r.body.user.email, email);
  assert.equal(r.body.user.name, 'Ada');
  assert.equal(r.body.user.email_verified, false);
  assert.match(r.body.user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(r.body.user.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(!r.text.includes('argon2'), 'hash must not leak');
  assert.ok(!r.text.includes('password'), 'no password field');
});

test('login with the right password returns the user', async () => {
  const email = uniqueEmail('login');
  const password = goodPassword();
  const reg = await gh.json('POST', '/v1/register', { email, password });
  assert.equal(reg.status, 201);
  const r = await gh.json('POST', '/v1/login', { email, password });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.user.id, reg.body.user.id);
  // Email lookup is case-insensitive and trims.
  const r2 = await gh.json('POST', '/v1/login', { email: `  ${email.toUpperCase()} `, password });
  assert.equal(r2.status, 200, r2.text);
});

test('duplicate email, even differing only by case, is 409 email_taken', async () => {
  const email = uniqueEmail('dup');
  assert.equal((await gh.json('POST', '/v1/register', { email, password: goodPassword() })).status, 201);
  const r = await gh.json('POST', '/v1/register', { email: email.toUpperCase(), password: goodPassword() });
  assert.equal(r.status, 409);
  assert.equal(r.body.code, 'email_taken');
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
});

test('unknown email and wrong password give the same status and body', async () => {
  const email = uniqueEmail('enum');
  const password = goodPassword();
  assert.equal((await gh.json('POST', '/v1/register', { email, password })).status, 201);
  const wrong = await gh.json('POST', '/v1/login', { email, password: password + 'x' });
  const unknown = await gh.json('POST', '/v1/login', { email: uniqueEmail('nobody'), password });
  const badEmail = await gh.json('POST', '/v1/login', { email: 'not-an-email', password });
  for (const r of [wrong, unknown, badEmail]) {
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.code, 'invalid_credentials');
  }
  assert.deepEqual(withoutRequestId(wrong.body), withoutRequestId(unknown.body));
  assert.deepEqual(withoutRequestId(wrong.body), withoutRequestId(badEmail.body));
  assert.equal(wrong.headers.get('content-type'), unknown.headers.get('content-type'));
});

test('password is checked exactly: case, truncation and whitespace matter', async () => {
  const email = uniqueEmail('exact');
  const password = 'Q' + 'w9-vintage-lantern-'.repeat(5);  // 96 chars
  assert.equal((await gh.json('POST', '/v1/register', { email, password })).status, 201);
  for (const attempt of [password.slice(0, 72), 'q' + password.slice(1), password.slice(0, -1), password + ' ']) {
    const r = await gh.json('POST', '/v1/login', { email, password: attempt });
    assert.equal(r.status, 401, `variant accepted: ${attempt.length}`);
  }
  assert.equal((await gh.json('POST', '/v1/login', { email, password })).status, 200);
});

test('long and unicode passwords: 64 and 128 chars work, NFKC applied at set and check', async () => {
  for (const len of [64, 128]) {
    const email = uniqueEmail('len');
    const password = randomBytes(len).toString('base64url').slice(0, len);
    assert.equal(password.length, len);
    assert.equal((await gh.json('POST', '/v1/register', { email, password })).status, 201);
    assert.equal((await gh.json('POST', '/v1/login', { email, password })).status, 200);
  }
  const email = uniqueEmail('nfkc');
  // U+FB01 (ﬁ ligature) normalises to "fi" under NFKC; é precomposed == e + U+0301.
  const set = 'ﬁre-and-\u00e9lan-over-the-mountains';
  const check = 'fire-and-e\u0301lan-over-the-mountains';
  assert.equal((await gh.json('POST', '/v1/register', { email, password: set })).status, 201);
  assert.equal((await gh.json('POST', '/v1/login', { email, password: check })).status, 200);
});

test('password policy: too short, too long, common, context-specific are refused with a reason', async () => {
  const cases = [
    ['short-pw-14chr', 'password_too_short'],
    ['a'.repeat(129), 'password_too_long'],
    ['password1234', null],  // too short AND common; either reason is fine
    ['passwordpassword', 'password_common'],
    ['gatehousegatehouse', 'password_context'],
  ];
  for (const [password, code] of cases) {
    const r = await gh.json('POST', '/v1/register', { email: uniqueEmail('pol'), password });
    assert.equal(r.status, 422, `${password}: ${r.text}`);
    if (code) assert.equal(r.body.code, code, password);
    assert.ok(r.body.detail, 'a reason is given');
    assert.ok(!r.text.includes(password), 'the password is not echoed');
  }
  const email = uniqueEmail('alice.smith');
  const local = email.split('@')[0];
  const r = await gh.json('POST', '/v1/register', { email, password: `${local}2025!!` });
  assert.equal(r.status, 422);
  assert.equal(r.body.code, 'password_context');
  // A 20-char lowercase passphrase (no composition rules) is fine.
  const ok = await gh.json('POST', '/v1/register', { email: uniqueEmail('pass'), password: 'plumtreesunderamoon' + 'k' });
  assert.equal(ok.status, 201, ok.text);
});

test('invalid emails are 422 invalid_email', async () => {
  for (const email of ['', 'plain', 'a@b', 'a@@b.test', '.a@b.test', 'a..b@c.test', 'a@-b.test', 'a b@c.test',
    'x'.repeat(65) + '@b.test']) {
    const r = await gh.json('POST', '/v1/register', { email, password: goodPassword() });
    assert.equal(r.status, 422, `${email}: ${r.text}`);
    assert.equal(r.body.code, 'invalid_email');
  }
  const idn = await gh.json('POST', '/v1/register', { email: uniqueEmail('idn').replace('example.test', 'bücher.example'), password: goodPassword() });
  assert.equal(idn.status, 201, idn.text);
});

test('accounts survive a restart with the same data dir', async () => {
  const s = await new Server().start();
  const email = uniqueEmail('persist');
  const password = goodPassword();
  assert.equal((await s.json('POST', '/v1/register', { email, password })).status, 201);
  assert.equal(await s.stop({ keepData: true }), 0);
  const s2 = await new Server({ dataDir: s.dataDir }).start();
  try {
    assert.equal((await s2.json('POST', '/v1/login', { email, password })).status, 200);
    assert.equal((await s2.json('POST', '/v1/register', { email, password })).status, 409);
  } finally {
    s2.ownDir = true;
    assert.equal(await s2.stop(), 0);
  }
});
