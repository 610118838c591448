// Secret hygiene: run the product's flows with canary values for passwords,
// tokens, cookies and the key-encryption key, then scan every log line, every
// audit row and every error body: no canary may appear in any of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Server, cli, uniqueEmail } from './lib/server.mjs';

const KEK = randomBytes(32).toString('base64url');
const PASSWORD = `canary-password-${randomBytes(6).toString('hex')}-violet`;
const WRONG = `canary-wrong-${randomBytes(6).toString('hex')}-harbor`;
const NEXT = `canary-next-${randomBytes(6).toString('hex')}-tangerine`;

let gh;
const errorBodies = [];
const secrets = new Set([KEK, PASSWORD, WRONG, NEXT]);
// CSRF tokens belong in our own forms (a re-rendered form carries one): checked against logs and audit only.
const formTokens = new Set();

before(async () => { gh = await new Server({ env: { GATEHOUSE_KEK: KEK } }).start(); });
after(async () => { assert.equal(await gh.stop(), 0); });

async function call(method, path, body, headers = {}) {
  const r = await gh.json(method, path, body, headers);
  if (r.status >= 400) errorBodies.push(`${method} ${path} ${r.status} ${r.text}`);
  return r;
}

async function form(path, fields, cookie) {
  const res = await fetch(gh.url(path), {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gh.base, cookie },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await res.text();
  if (res.status >= 400) errorBodies.push(`POST ${path} ${res.status} ${text}`);
  return { res, text };
}

test('no canary secret reaches the logs, the audit log or an error body', async () => {
  const email = uniqueEmail('canary');
  const reg = await call('POST', '/v1/register', { email, password: PASSWORD }, { 'token-transport': 'body' });
  assert.equal(reg.status, 201, reg.text);
  secrets.add(reg.body.access_token).add(reg.body.refresh_token);
  // Errors that carry the secret in the request.
  await call('POST', '/v1/login', { email, password: WRONG });
  await call('POST', '/v1/login', `{"email":"${email}","password":"${WRONG}"`);      // malformed JSON
  await call('POST', '/v1/login', { email, password: WRONG, extra: PASSWORD });       // unknown field
  await call('POST', '/v1/register', { email, password: PASSWORD });                  // taken
  await call('POST', '/v1/register', { email: uniqueEmail('c2'), password: 'password' }); // weak
  await call('GET', '/v1/me', undefined, { authorization: `Bearer ${reg.body.access_token}x` });
  await call('POST', '/v1/token/refresh', { refresh_token: `${reg.body.refresh_token}x` }, { 'token-transport': 'body' });
  const login = await call('POST', '/v1/login', { email, password: PASSWORD }, { 'token-transport': 'body' });
  assert.equal(login.status, 200);
  secrets.add(login.body.access_token).add(login.body.refresh_token);
  const refreshed = await call('POST', '/v1/token/refresh', { refresh_token: login.body.refresh_token }, { 'token-transport': 'body' });
  assert.equal(refreshed.status, 200);
  secrets.add(refreshed.body.refresh_token).add(refreshed.body.access_token);
  await call('POST', '/v1/token/refresh', { refresh_token: login.body.refresh_token }, { 'token-transport': 'body' });
  await call('POST', '/v1/password/change', { current_password: WRONG, new_password: NEXT },
    { authorization: `Bearer ${refreshed.body.access_token}` });
  // Browser session, and the hosted form flows.
  const s = await call('POST', '/v1/session/login', { email, password: PASSWORD });
  assert.equal(s.status, 200);
  const cookie = s.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_session=')).split(';')[0];
  secrets.add(cookie.split('=')[1]);
  formTokens.add(s.body.csrf_token);
  await call('POST', '/v1/session/token', '', { cookie, 'x-csrf-token': 'wrong' });
  const page = await fetch(gh.url('/login'));
  const formCookie = page.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_form=')).split(';')[0];
  const csrf = (await page.text()).match(/name="csrf" value="([^"]+)"/)[1];
  secrets.add(formCookie.split('=')[1]);
  formTokens.add(csrf);
  await form('/login', { email, password: WRONG, csrf }, formCookie);
  await form('/login', { email, password: WRONG, csrf: 'forged' }, formCookie);
  const ok = await form('/login', { email, password: PASSWORD, csrf }, formCookie);
  assert.equal(ok.res.status, 303);
  const pageCookie = ok.res.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_session=')).split(';')[0];
  secrets.add(pageCookie.split('=')[1]);
  const device = ok.res.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_device='));
  if (device) secrets.add(device.split(';')[0].split('=')[1]);
  const account = await (await fetch(gh.url('/account'), { headers: { cookie: pageCookie } })).text();
  const sessCsrf = account.match(/name="csrf" value="([^"]+)"/)[1];
  formTokens.add(sessCsrf);
  await form('/account/password', { csrf: sessCsrf, current_password: WRONG, new_password: NEXT }, pageCookie);
  await form('/account/password', { csrf: sessCsrf, current_password: PASSWORD, new_password: 'short' }, pageCookie);
  const changed = await form('/account/password', { csrf: sessCsrf, current_password: PASSWORD, new_password: NEXT }, pageCookie);
  assert.equal(changed.res.status, 303);
  await call('POST', '/v1/logout', { refresh_token: refreshed.body.refresh_token }, { 'token-transport': 'body' });
  // Admin commands and the printed configuration.
  const printed = cli(['serve', '--print-config', '--data-dir', gh.dataDir], { env: { GATEHOUSE_KEK: KEK } });
  assert.equal(printed.code, 0, printed.err);
  assert.match(printed.out, /secrets\.kek = "<redacted>"/);
  const auditOut = cli(['audit', '--data-dir', gh.dataDir], { env: { GATEHOUSE_KEK: KEK } });
  assert.equal(auditOut.code, 0, auditOut.err);
  assert.ok(auditOut.out.split('\n').filter(Boolean).length > 10, 'the flows were audited');

  // Wait (bounded) until the server's audit writer has caught up, then scan everything.
  const haystack = () => [gh.stdout, gh.stderr, printed.out, printed.err, auditOut.out, auditOut.err, ...errorBodies].join('\n');
  assert.ok(errorBodies.length >= 10, `errors were produced (${errorBodies.length})`);
  const logsAndAudit = [gh.stdout, gh.stderr, auditOut.out, auditOut.err].join('\n');
  for (const token of formTokens) assert.ok(!logsAndAudit.includes(token), `a CSRF token reached a log: ${token.slice(0, 8)}…`);
  for (const secret of secrets) {
    assert.ok(secret && secret.length >= 16, 'a real canary');
    assert.ok(!haystack().includes(secret), `a secret leaked: ${secret.slice(0, 8)}… in ${
      [['stdout', gh.stdout], ['stderr', gh.stderr], ['audit', auditOut.out], ['errors', errorBodies.join('\n')]]
        .filter(([, v]) => v.includes(secret)).map(([k]) => k).join(', ')}`);
  }
});
