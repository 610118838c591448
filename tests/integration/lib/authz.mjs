// Helpers for the authorization suite (docs/authz.md): users, platform admins,
// tenants, members and service clients driven through the real API and CLI.
import assert from 'node:assert/strict';
import { cli, uniqueEmail, goodPassword, until } from './server.mjs';

export const bearer = (t) => ({ authorization: `Bearer ${t}` });
export const basic = (id, secret) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

// The default policy (docs/authz.md, the reference's): role -> granted resource:action.
export const RESOURCES = ['projects', 'users', 'billing', 'reports'];
export const ACTIONS = ['read', 'write', 'delete', 'admin'];
export const GRANTS = {
  admin: new Set(RESOURCES.flatMap((r) => ACTIONS.map((a) => `${r}:${a}`))),
  manager: new Set(['projects:read', 'projects:write', 'reports:read', 'reports:write', 'users:read', 'billing:read']),
  member: new Set(['projects:read', 'reports:read']),
};

// The JWT payload (unverified: the server verified it; we only read claims).
export function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export { until };  // lives in server.mjs; re-exported for the suites that import it from here

// Server env for the suites about authorization itself: the MFA policy (admins and platform admins
// must enrol; a grant to a user without a factor ends their sessions) is off, so their users keep
// the password-only tokens they registered with. The policy is tested in mfa.test.mjs.
export const NO_MFA_POLICY = { GATEHOUSE_MFA_REQUIRED_ROLES: '', GATEHOUSE_MFA_REQUIRED_FOR_PLATFORM_ADMINS: 'false' };

// Asserts an RFC 9457 problem answer with the given status and code.
export function assertProblem(res, status, code, what = '') {
  assert.equal(res.status, status, `${what} status: ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, `${what} content-type`);
  assert.equal(typeof res.body?.code, 'string', `${what} has a code: ${res.text}`);
  if (code) assert.equal(res.body.code, code, `${what} code: ${res.text}`);
}

// Registers a fresh user: { email, password, id, access, refresh }.
export async function register(gh, tag = 'authz') {
  const email = uniqueEmail(tag);
  const password = goodPassword(tag);
  const r = await gh.json('POST', '/v1/register', { email, password }, { 'token-transport': 'body' });
  assert.equal(r.status, 201, `register: ${r.text}`);
  return { email, password, id: r.body.user.id, access: r.body.access_token, refresh: r.body.refresh_token };
}

// Signs in again (fresh auth_time); updates and returns the user record.
export async function login(gh, u) {
  const r = await gh.json('POST', '/v1/login', { email: u.email, password: u.password }, { 'token-transport': 'body' });
  assert.equal(r.status, 200, `login: ${r.text}`);
  u.access = r.body.access_token;
  u.refresh = r.body.refresh_token;
  return u;
}

// `gatehouse user grant-admin` against the server's data dir, then waits until the
// running server honours it (made elsewhere: within the cache TTL).
export async function grantPlatformAdmin(gh, u) {
  // With the server's settings: the CLI applies the same MFA policy to the grant.
  const r = cli(['user', 'grant-admin', u.email, '--data-dir', gh.dataDir], { env: gh.env });
  assert.equal(r.code, 0, `grant-admin: ${r.err}`);
  const res = await until(() => gh.json('GET', '/v1/admin/users?limit=1', undefined, bearer(u.access)), (x) => x.status === 200);
  assert.equal(res.status, 200, `platform admin honoured: ${res.text}`);
  return u;
}

export async function createTenant(gh, platformAdmin, name = `acme-${uniqueEmail('t').split('@')[0]}`) {
  const r = await gh.json('POST', '/v1/tenants', { name }, bearer(platformAdmin.access));
  assert.equal(r.status, 201, `create tenant: ${r.text}`);
  assert.match(r.body.tenant.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'tenant id is a UUIDv4');
  assert.equal(r.body.tenant.name, name);
  return r.body.tenant.id;
}

export async function addMember(gh, actor, tenant, user, role) {
  const r = await gh.json('POST', `/v1/tenants/${tenant}/members`, { user_id: user.id, role }, bearer(actor.access));
  assert.equal(r.status, 201, `add ${role}: ${r.text}`);
  assert.equal(r.body.member.user_id, user.id);
  assert.equal(r.body.member.role, role);
  return r.body.member;
}

export async function createClient(gh, actor, tenant, name = 'svc') {
  const r = await gh.json('POST', `/v1/tenants/${tenant}/service-clients`, { name }, bearer(actor.access));
  assert.equal(r.status, 201, `create client: ${r.text}`);
  assert.equal(typeof r.body.client_id, 'string');
  assert.equal(typeof r.body.client_secret, 'string');
  assert.ok(r.body.client_secret.length >= 22, 'a client secret of at least 128 bits');
  return { id: r.body.client_id, secret: r.body.client_secret, name: r.body.name };
}

// One check through POST /v1/authz/check; returns the raw response.
export function check(gh, auth, body) {
  return gh.json('POST', '/v1/authz/check', body, auth);
}

// One check that must be answered 200; returns { allowed, reason }.
export async function decide(gh, auth, body) {
  const r = await check(gh, auth, body);
  assert.equal(r.status, 200, `check ${JSON.stringify(body)}: ${r.text}`);
  return { allowed: r.body.allowed, reason: r.body.reason };
}

// Every page of an audit listing (`path` already has its query, if any).
export async function auditAll(gh, token, path) {
  const events = [];
  let after = null;
  for (let i = 0; i < 50; i += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await gh.json('GET', `${path}${after ? `${sep}after=${encodeURIComponent(after)}` : ''}`, undefined, bearer(token));
    assert.equal(r.status, 200, `audit ${path}: ${r.text}`);
    assert.ok(Array.isArray(r.body.events), r.text);
    events.push(...r.body.events);
    if (!r.body.next_cursor) return events;
    after = r.body.next_cursor;
  }
  throw new Error(`audit ${path}: more than 50 pages`);
}

// Audit rows, polled (the server writes them on a writer thread) until `want(rows)` holds.
export async function auditUntil(gh, token, path, want, timeoutMs = 5000) {
  return until(() => auditAll(gh, token, path), want, { timeoutMs });
}

// A problem body without the per-request parts, for "the same answer" comparisons.
export function problemShape(res) {
  const { request_id: _r, instance: _i, ...rest } = res.body ?? {};
  return { status: res.status, ...rest };
}
