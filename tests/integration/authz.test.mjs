// Authorization (issue #6) against the real binary, black-box, following
// docs/authz.md: the default-policy matrix through POST /v1/authz/check (single
// and batch, bearer and service client), who may use the admin API, tenant
// isolation (IDOR), 401 vs 403 on every protected endpoint, disabled users,
// step-up re-authentication (with a clock moved by libfaketime), membership
// changes taking effect at once, service-client secrets, the last admin, bad
// bodies (mass assignment), and the audit trail of admin changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Server, cli } from './lib/server.mjs';
import {
  bearer, basic, claims, until, assertProblem, register, login, grantPlatformAdmin, createTenant, addMember,
  createClient, check, decide, auditAll, auditUntil, problemShape, RESOURCES, ACTIONS, GRANTS, NO_MFA_POLICY,
} from './lib/authz.mjs';

let gh;  // one server for the file (the step-up test starts its own pair)
let P;   // a platform admin
before(async () => {
  gh = await new Server({ env: NO_MFA_POLICY }).start();
  P = await grantPlatformAdmin(gh, await register(gh, 'platform'));
});
after(async () => { assert.equal(await gh.stop(), 0); });

// A tenant with one user per role, an outsider, and a service client made by its admin.
async function world(tag) {
  const [admin, manager, member, outsider] = await Promise.all(
    ['admin', 'manager', 'member', 'outsider'].map((r) => register(gh, `${tag}-${r}`)));
  const t = await createTenant(gh, P);
  await addMember(gh, P, t, admin, 'admin');
  await addMember(gh, P, t, manager, 'manager');
  await addMember(gh, P, t, member, 'member');
  const client = await createClient(gh, admin, t, `${tag}-svc`);
  return { t, admin, manager, member, outsider, client };
}

// ---------------------------------------------------------------------------
// 1. The default-policy matrix
// ---------------------------------------------------------------------------

const KNOWN = RESOURCES.flatMap((r) => ACTIONS.map((a) => [r, a]));
// Names the policy does not know, including wildcard and case variants: never a match.
const UNKNOWN = [
  ['invoices', 'read', 'unknown_resource'],
  ['Projects', 'read', 'unknown_resource'],
  ['*', 'read', 'unknown_resource'],
  ['projects', 'fly', 'unknown_action'],
  ['projects', 'READ', 'unknown_action'],
  ['projects', '*', 'unknown_action'],
  ['billing', 'read ', 'unknown_action'],
];

// A service client learns answers, not account facts: a platform admin reads as "granted" to it.
function expected(role, resource, action, unknownReason, viaClient = false) {
  if (role === 'outsider') return { allowed: false, reason: 'not_member' };
  if (unknownReason) return { allowed: false, reason: unknownReason };
  if (role === 'platform') return { allowed: true, reason: viaClient ? 'granted' : 'platform_admin' };
  return GRANTS[role].has(`${resource}:${action}`) ? { allowed: true, reason: 'granted' } : { allowed: false, reason: 'not_granted' };
}

test('the default policy, every role x resource x action, single and batch, bearer and service client', async (t) => {
  const w = await world('matrix');
  const who = { admin: w.admin, manager: w.manager, member: w.member, outsider: w.outsider, platform: P };
  const cases = [...KNOWN.map(([r, a]) => [r, a, null]), ...UNKNOWN];
  for (const [role, user] of Object.entries(who)) {
    await t.test(role, async () => {
      const wrong = [];
      const want = cases.map(([r, a, u]) => expected(role, r, a, u));
      const wantClient = cases.map(([r, a, u]) => expected(role, r, a, u, true));
      const body = (i, withSubject) => {
        const [resource, action] = cases[i];
        return { tenant: w.t, resource, action, ...(withSubject ? { subject: user.id } : {}) };
      };
      // Bearer, single: the user asks about themselves (subject absent on even rows, equal to self on odd ones).
      const singles = await Promise.all(cases.map((_, i) => decide(gh, bearer(user.access), body(i, i % 2 === 1))));
      singles.forEach((got, i) => { if (got.allowed !== want[i].allowed || got.reason !== want[i].reason) wrong.push(['bearer single', cases[i], got]); });
      // Service client, single: names the subject.
      const viaClient = await Promise.all(cases.map((_, i) => decide(gh, basic(w.client.id, w.client.secret), body(i, true))));
      viaClient.forEach((got, i) => { if (got.allowed !== wantClient[i].allowed || got.reason !== wantClient[i].reason) wrong.push(['client single', cases[i], got]); });
      // Batch, both ways: results in order.
      for (const [how, auth, withSubject] of [['bearer batch', bearer(user.access), false], ['client batch', basic(w.client.id, w.client.secret), true]]) {
        const r = await check(gh, auth, { checks: cases.map((_, i) => body(i, withSubject)) });
        assert.equal(r.status, 200, `${how}: ${r.text}`);
        assert.equal(r.body.results.length, cases.length, how);
        const w2 = how.startsWith('client') ? wantClient : want;
        r.body.results.forEach((got, i) => { if (got.allowed !== w2[i].allowed || got.reason !== w2[i].reason) wrong.push([how, cases[i], got]); });
      }
      assert.deepEqual(wrong, [], `decisions that differ from the default policy for ${role}`);
    });
  }
  // A denial is an answer, not an error; and the answer is exactly { allowed, reason }.
  const denied = await check(gh, bearer(w.member.access), { tenant: w.t, resource: 'billing', action: 'delete' });
  assert.equal(denied.status, 200);
  assert.deepEqual(Object.keys(denied.body).sort(), ['allowed', 'reason']);
  assert.equal(denied.body.allowed, false);
});

test('authz/check: a user may only ask about themselves; batch bounds; a service client must name the subject', async () => {
  const w = await world('checkrules');
  const about = { tenant: w.t, resource: 'projects', action: 'read' };
  // Asking about someone else with a bearer token: 403, single and batch (also mixed with a legal check).
  const other = await check(gh, bearer(w.member.access), { ...about, subject: w.admin.id });
  assertProblem(other, 403, 'forbidden', 'bearer about another subject');
  const otherBatch = await check(gh, bearer(w.member.access), { checks: [about, { ...about, subject: w.admin.id }] });
  assertProblem(otherBatch, 403, 'forbidden', 'bearer batch about another subject');
  const outsiderAsks = await check(gh, bearer(w.outsider.access), { ...about, subject: w.admin.id });
  assertProblem(outsiderAsks, 403, 'forbidden', 'outsider about a member');

  // 1..100 checks.
  const hundred = await check(gh, bearer(w.member.access), { checks: Array.from({ length: 100 }, () => about) });
  assert.equal(hundred.status, 200, hundred.text);
  assert.equal(hundred.body.results.length, 100);
  assert.ok(hundred.body.results.every((x) => x.allowed === true && x.reason === 'granted'));
  assertProblem(await check(gh, bearer(w.member.access), { checks: Array.from({ length: 101 }, () => about) }), 400, null, '101 checks');
  assertProblem(await check(gh, bearer(w.member.access), { checks: [] }), 400, null, 'no checks');
  assertProblem(await check(gh, bearer(w.member.access), { checks: about }), 400, null, 'checks not an array');
  assertProblem(await check(gh, bearer(w.member.access), { checks: [about, 'projects:read'] }), 400, null, 'a check not an object');

  // A service client names the subject of every check.
  const noSubject = await check(gh, basic(w.client.id, w.client.secret), about);
  assertProblem(noSubject, 400, null, 'service client without subject');
  // An unknown subject is not an error, and reads as a non-member to a service client (no account oracle).
  assert.deepEqual(await decide(gh, basic(w.client.id, w.client.secret), { ...about, subject: randomUUID() }),
    { allowed: false, reason: 'not_member' });
  // Bad shapes: 400 with a code.
  assertProblem(await check(gh, bearer(w.member.access), { tenant: w.t, resource: 'projects' }), 400, 'missing_field', 'no action');
  assertProblem(await check(gh, bearer(w.member.access), { ...about, action: 7 }), 400, 'wrong_type', 'numeric action');
  assertProblem(await check(gh, bearer(w.member.access), { ...about, role: 'admin' }), 400, 'unknown_field', 'a role in the check');
  assertProblem(await check(gh, bearer(w.member.access), '{"tenant":'), 400, 'malformed_json', 'broken JSON');
});

// ---------------------------------------------------------------------------
// 2. Who may use the tenant admin API
// ---------------------------------------------------------------------------

test('admin API by role: users:read lists members (admin, manager), users:admin changes them (admin only)', async () => {
  const w = await world('roles');
  const target = await register(gh, 'roles-target');
  const path = `/v1/tenants/${w.t}`;
  const as = (u, method, p, body) => gh.json(method, p, body, bearer(u.access));

  // Reading: the tenant (any member), its members (users:read).
  for (const [u, role] of [[w.admin, 'admin'], [w.manager, 'manager'], [w.member, 'member']]) {
    const r = await as(u, 'GET', path);
    assert.equal(r.status, 200, `${role} GET tenant: ${r.text}`);
    assert.equal(r.body.tenant.id, w.t);
    assert.equal(r.body.role, role);
  }
  assertProblem(await as(w.outsider, 'GET', path), 403, 'forbidden', 'outsider GET tenant');
  for (const [u, ok] of [[w.admin, true], [w.manager, true], [P, true], [w.member, false], [w.outsider, false]]) {
    const r = await as(u, 'GET', `${path}/members`);
    if (ok) {
      assert.equal(r.status, 200, r.text);
      const byId = Object.fromEntries(r.body.members.map((m) => [m.user_id, m]));
      assert.equal(byId[w.admin.id].role, 'admin');
      assert.equal(byId[w.admin.id].email, w.admin.email);
      assert.equal(byId[w.manager.id].role, 'manager');
      assert.equal(byId[w.member.id].role, 'member');
      assert.equal(r.body.members.length, 3, 'exactly the three members');
    } else {
      assertProblem(r, 403, 'forbidden', 'GET members without users:read');
    }
  }
  // Everything under users:admin: refused for manager and member (privilege escalation included).
  for (const u of [w.manager, w.member]) {
    const attempts = [
      ['PATCH', path, { name: 'taken over' }],
      ['POST', `${path}/members`, { user_id: target.id, role: 'member' }],
      ['POST', `${path}/members`, { user_id: u.id, role: 'admin' }],       // promote myself by re-adding
      ['PATCH', `${path}/members/${u.id}`, { role: 'admin' }],              // promote myself
      ['PATCH', `${path}/members/${w.admin.id}`, { role: 'member' }],       // demote the admin
      ['DELETE', `${path}/members/${w.admin.id}`],
      ['GET', `${path}/service-clients`],
      ['POST', `${path}/service-clients`, { name: 'mine' }],
      ['POST', `${path}/service-clients/${w.client.id}/rotate`],
      ['DELETE', `${path}/service-clients/${w.client.id}`],
      ['GET', `${path}/audit`],
      ['DELETE', path],
    ];
    for (const [m, p, b] of attempts) assertProblem(await as(u, m, p, b), 403, 'forbidden', `${m} ${p} by a non-admin`);
  }
  // Nothing changed.
  const after = await as(w.admin, 'GET', `${path}/members`);
  assert.deepEqual(after.body.members.map((m) => [m.user_id, m.role]).sort(),
    [[w.admin.id, 'admin'], [w.manager.id, 'manager'], [w.member.id, 'member']].sort());
  assert.deepEqual(await decide(gh, basic(w.client.id, w.client.secret), { tenant: w.t, resource: 'projects', action: 'read', subject: w.member.id }),
    { allowed: true, reason: 'granted' }, 'the client survived the refused rotate/delete');

  // The admin (and a platform admin) may.
  const renamed = await as(w.admin, 'PATCH', path, { name: 'Renamed Org' });
  assert.equal(renamed.status, 200, renamed.text);
  assert.equal(renamed.body.tenant.name, 'Renamed Org');
  assert.equal((await as(w.member, 'GET', path)).body.tenant.name, 'Renamed Org');
  const added = await as(w.admin, 'POST', `${path}/members`, { email: target.email, role: 'member' });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.body.member.user_id, target.id);
  assert.equal(added.body.member.role, 'member');
  const promoted = await as(w.admin, 'PATCH', `${path}/members/${target.id}`, { role: 'manager' });
  assert.equal(promoted.status, 200, promoted.text);
  assert.equal(promoted.body.member.role, 'manager');
  assert.equal((await as(P, 'PATCH', `${path}/members/${target.id}`, { role: 'member' })).status, 200, 'platform admin changes a role');
  assert.equal((await as(w.admin, 'DELETE', `${path}/members/${target.id}`)).status, 204);
  const list = await as(w.admin, 'GET', `${path}/service-clients`);
  assert.equal(list.status, 200, list.text);
  assert.ok(list.body.clients.some((c) => c.client_id === w.client.id));
  assert.equal((await as(w.admin, 'GET', `${path}/audit`)).status, 200);

  // GET /v1/tenants: the caller's own tenants with their role; all of them for a platform admin.
  const mine = await as(w.manager, 'GET', '/v1/tenants');
  assert.equal(mine.status, 200, mine.text);
  assert.deepEqual(mine.body.tenants.map((x) => [x.id, x.role]), [[w.t, 'manager']]);
  assert.equal(mine.body.tenants[0].name, 'Renamed Org');
  const none = await as(w.outsider, 'GET', '/v1/tenants');
  assert.equal(none.status, 200);
  assert.deepEqual(none.body.tenants, []);
  const other = await createTenant(gh, P);
  const all = await as(P, 'GET', '/v1/tenants');
  assert.equal(all.status, 200);
  for (const id of [w.t, other]) assert.ok(all.body.tenants.some((x) => x.id === id), `platform admin sees ${id}`);
});

// ---------------------------------------------------------------------------
// 3. Tenant isolation (IDOR / BOLA)
// ---------------------------------------------------------------------------

const tenantScoped = (t, user, client) => [
  ['GET', `/v1/tenants/${t}`],
  ['PATCH', `/v1/tenants/${t}`, { name: 'hijacked' }],
  ['DELETE', `/v1/tenants/${t}`],
  ['GET', `/v1/tenants/${t}/members`],
  ['POST', `/v1/tenants/${t}/members`, { user_id: user, role: 'admin' }],
  ['PATCH', `/v1/tenants/${t}/members/${user}`, { role: 'admin' }],
  ['DELETE', `/v1/tenants/${t}/members/${user}`],
  ['GET', `/v1/tenants/${t}/service-clients`],
  ['POST', `/v1/tenants/${t}/service-clients`, { name: 'spy' }],
  ['POST', `/v1/tenants/${t}/service-clients/${client}/rotate`],
  ['DELETE', `/v1/tenants/${t}/service-clients/${client}`],
  ['GET', `/v1/tenants/${t}/audit`],
];

test("cross-tenant: tenant A's admin gets 403 on every endpoint of tenant B, exactly as for a tenant that does not exist", async () => {
  const a = await world('idor-a');
  const b = await world('idor-b');
  const ghost = randomUUID();
  const viaB = tenantScoped(b.t, b.member.id, b.client.id);
  const viaGhost = tenantScoped(ghost, randomUUID(), randomUUID());
  for (let i = 0; i < viaB.length; i += 1) {
    const [m, p, body] = viaB[i];
    const rb = await gh.json(m, p, body, bearer(a.admin.access));
    assertProblem(rb, 403, 'forbidden', `A's admin: ${m} ${p}`);
    const rg = await gh.json(viaGhost[i][0], viaGhost[i][1], viaGhost[i][2], bearer(a.admin.access));
    assertProblem(rg, 403, 'forbidden', `A's admin: ${viaGhost[i][0]} ${viaGhost[i][1]}`);
    assert.deepEqual(problemShape(rb), problemShape(rg), `${m} ${p}: B answers like a tenant that does not exist`);
  }
  // Not even a malformed id tells "absent" from "not yours".
  assertProblem(await gh.json('GET', '/v1/tenants/not-a-uuid', undefined, bearer(a.admin.access)), 403, 'forbidden', 'malformed tenant id');
  // A tenant token for A does not open B either; a tenant token for B is refused.
  const ta = await gh.json('POST', '/v1/token/tenant', { tenant: a.t }, bearer(a.admin.access));
  assert.equal(ta.status, 200, ta.text);
  assertProblem(await gh.json('GET', `/v1/tenants/${b.t}/members`, undefined, bearer(ta.body.access_token)), 403, 'forbidden', 'A tenant token on B');
  assertProblem(await gh.json('POST', '/v1/token/tenant', { tenant: b.t }, bearer(a.admin.access)), 403, 'forbidden', 'tenant token for B');

  // B is untouched.
  const members = await gh.json('GET', `/v1/tenants/${b.t}/members`, undefined, bearer(b.admin.access));
  assert.deepEqual(members.body.members.map((m) => [m.user_id, m.role]).sort(),
    [[b.admin.id, 'admin'], [b.manager.id, 'manager'], [b.member.id, 'member']].sort());
  const tb = await gh.json('GET', `/v1/tenants/${b.t}`, undefined, bearer(b.admin.access));
  assert.notEqual(tb.body.tenant.name, 'hijacked');
  const clients = await gh.json('GET', `/v1/tenants/${b.t}/service-clients`, undefined, bearer(b.admin.access));
  assert.deepEqual(clients.body.clients.map((c) => c.client_id), [b.client.id]);
  assert.deepEqual(await decide(gh, basic(b.client.id, b.client.secret), { tenant: b.t, resource: 'projects', action: 'read', subject: b.member.id }),
    { allowed: true, reason: 'granted' });
});

test("cross-tenant: B's member and B's service client are 404 under A's id; A's audit never shows B's rows", async () => {
  const a = await world('idor2-a');
  const b = await world('idor2-b');
  const as = (m, p, body) => gh.json(m, p, body, bearer(a.admin.access));
  // Something happens in B that B's audit records.
  const bNew = await register(gh, 'idor2-bnew');
  await addMember(gh, b.admin, b.t, bNew, 'member');
  // Ids that exist, but in B.
  for (const [m, p, body] of [
    ['PATCH', `/v1/tenants/${a.t}/members/${b.member.id}`, { role: 'manager' }],
    ['DELETE', `/v1/tenants/${a.t}/members/${b.member.id}`],
    ['PATCH', `/v1/tenants/${a.t}/members/${randomUUID()}`, { role: 'manager' }],
    ['DELETE', `/v1/tenants/${a.t}/members/${randomUUID()}`],
    ['POST', `/v1/tenants/${a.t}/service-clients/${b.client.id}/rotate`],
    ['DELETE', `/v1/tenants/${a.t}/service-clients/${b.client.id}`],
    ['POST', `/v1/tenants/${a.t}/service-clients/${randomUUID()}/rotate`],
    ['DELETE', `/v1/tenants/${a.t}/service-clients/${randomUUID()}`],
  ]) assertProblem(await as(m, p, body), 404, 'not_found', `${m} ${p}`);
  // B's member and client still work in B.
  assert.deepEqual(await decide(gh, basic(b.client.id, b.client.secret), { tenant: b.t, resource: 'projects', action: 'read', subject: b.member.id }),
    { allowed: true, reason: 'granted' }, "B's client secret was not rotated or deleted through A");
  // A's service client asking about B (or about a tenant that does not exist) is told "not a member".
  const cA = basic(a.client.id, a.client.secret);
  for (const [tenant, subject] of [[b.t, b.member.id], [b.t, b.admin.id], [b.t, a.admin.id], [randomUUID(), a.admin.id]])
    assert.deepEqual(await decide(gh, cA, { tenant, resource: 'projects', action: 'read', subject }), { allowed: false, reason: 'not_member' },
      `A's client about ${tenant}/${subject}`);
  // Even in a batch next to a legitimate check.
  const mixed = await check(gh, cA, { checks: [
    { tenant: a.t, resource: 'projects', action: 'read', subject: a.member.id },
    { tenant: b.t, resource: 'projects', action: 'read', subject: b.member.id }] });
  assert.equal(mixed.status, 200, mixed.text);
  assert.deepEqual(mixed.body.results.map((x) => [x.allowed, x.reason]), [[true, 'granted'], [false, 'not_member']]);

  // A's audit: only A's rows, though B's are there.
  const bRows = await auditUntil(gh, b.admin.access, `/v1/tenants/${b.t}/audit`, (rows) => rows.some((e) => e.subject === bNew.id));
  assert.ok(bRows.some((e) => e.subject === bNew.id), "B's audit has B's change");
  const aRows = await auditAll(gh, a.admin.access, `/v1/tenants/${a.t}/audit`);
  assert.ok(aRows.length > 0, "A's audit has A's own rows (its members were added)");
  assert.deepEqual(aRows.filter((e) => e.tenant !== a.t), [], 'rows of other tenants in A\'s audit');
  assert.ok(!JSON.stringify(aRows).includes(bNew.id), "B's new member does not appear in A's audit");
  // A filter naming B's actor or B's tenant does not widen it.
  for (const q of [`?user=${b.admin.id}`, `?tenant=${b.t}`]) {
    const r = await gh.json('GET', `/v1/tenants/${a.t}/audit${q}`, undefined, bearer(a.admin.access));
    if (r.status === 200) assert.deepEqual(r.body.events.filter((e) => e.tenant !== a.t), [], q);
    else assertProblem(r, 400, null, q);
  }
});

// ---------------------------------------------------------------------------
// 4. 401 vs 403
// ---------------------------------------------------------------------------

const platformOnly = (user) => [
  ['GET', '/v1/admin/users'],
  ['GET', `/v1/admin/users/${user}`],
  ['POST', `/v1/admin/users/${user}/disable`],
  ['POST', `/v1/admin/users/${user}/enable`],
  ['POST', `/v1/admin/users/${user}/logout`],
  ['POST', `/v1/admin/users/${user}/unlock`],
  ['DELETE', `/v1/admin/users/${user}`],
  ['POST', '/v1/tenants', { name: 'not yours to make' }],
  ['GET', '/v1/admin/audit'],
];

test('401 without or with a bad token on every protected endpoint, 403 forbidden with a valid one that lacks permission', async () => {
  const w = await world('status');
  const victim = await register(gh, 'status-victim');
  await addMember(gh, w.admin, w.t, victim, 'member');
  const scoped = tenantScoped(w.t, victim.id, w.client.id);
  const others = [
    ['POST', '/v1/token/tenant', { tenant: w.t }],
    ['POST', '/v1/reauthenticate', { password: 'some password that is long' }],
    ['POST', '/v1/authz/check', { tenant: w.t, resource: 'projects', action: 'read' }],
    ['GET', '/v1/tenants'],
  ];
  const all = [...scoped, ...platformOnly(victim.id), ...others];
  const [h, p, s] = w.admin.access.split('.');
  const pl = claims(w.admin.access);
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...pl, sub: victim.id })).toString('base64url')}.${s}`;
  for (const [m, path, body] of all) {
    const none = await gh.json(m, path, body);
    assertProblem(none, 401, null, `no token: ${m} ${path}`);
    assert.match(none.headers.get('www-authenticate') ?? '', /^(Bearer|Basic) realm="gatehouse"/, `WWW-Authenticate on ${m} ${path}`);
    for (const [what, auth] of [['garbage', bearer('not.a.token')], ['tampered', bearer(tampered)], ['empty', { authorization: 'Bearer ' }]]) {
      const r = await gh.json(m, path, body, auth);
      assertProblem(r, 401, 'invalid_token', `${what} token: ${m} ${path}`);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /, `${what}: ${m} ${path}`);
    }
    // A service client's credentials are not a user's: they open nothing but /v1/authz/check.
    if (path !== '/v1/authz/check') assertProblem(await gh.json(m, path, body, basic(w.client.id, w.client.secret)), 401, null, `Basic on ${m} ${path}`);
  }
  // Signed in, but not allowed.
  for (const [m, path, body] of scoped) assertProblem(await gh.json(m, path, body, bearer(w.outsider.access)), 403, 'forbidden', `outsider: ${m} ${path}`);
  for (const [m, path, body] of scoped.slice(1)) assertProblem(await gh.json(m, path, body, bearer(w.member.access)), 403, 'forbidden', `member: ${m} ${path}`);
  for (const [m, path, body] of platformOnly(victim.id)) {
    assertProblem(await gh.json(m, path, body, bearer(w.admin.access)), 403, 'forbidden', `tenant admin: ${m} ${path}`);
    assertProblem(await gh.json(m, path, body, bearer(w.member.access)), 403, 'forbidden', `member: ${m} ${path}`);
  }
  assertProblem(await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(w.outsider.access)), 403, 'forbidden', 'tenant token for a non-member');
  assertProblem(await check(gh, bearer(w.outsider.access), { tenant: w.t, resource: 'projects', action: 'read', subject: victim.id }), 403, 'forbidden', 'check about another subject');
  // The victim was not disabled, logged out or deleted by any of that.
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(victim.access))).status, 200);
  const t = await gh.json('GET', `/v1/tenants/${w.t}/members`, undefined, bearer(w.admin.access));
  assert.ok(t.body.members.some((x) => x.user_id === victim.id && x.role === 'member'));
});

// ---------------------------------------------------------------------------
// Platform admin API
// ---------------------------------------------------------------------------

test('platform admin: list and find users, user detail with memberships, logout, unlock; grant and revoke through the CLI', async () => {
  const w = await world('platform');
  const tag = `plist${process.pid}x${Date.now().toString(36)}`;
  const us = await Promise.all([1, 2, 3].map(() => register(gh, tag)));
  const page1 = await gh.json('GET', `/v1/admin/users?q=${tag}&limit=2`, undefined, bearer(P.access));
  assert.equal(page1.status, 200, page1.text);
  assert.equal(page1.body.users.length, 2);
  assert.ok(page1.body.next_cursor, 'a cursor when there is more');
  const page2 = await gh.json('GET', `/v1/admin/users?q=${tag}&limit=2&after=${encodeURIComponent(page1.body.next_cursor)}`, undefined, bearer(P.access));
  assert.equal(page2.status, 200, page2.text);
  assert.equal(page2.body.users.length, 1);
  assert.ok(!page2.body.next_cursor, 'no cursor on the last page');
  assert.deepEqual([...page1.body.users, ...page2.body.users].map((u) => u.id).sort(), us.map((u) => u.id).sort());
  assert.ok(!/\$argon2|\$2[aby]\$/.test(JSON.stringify([page1.body, page2.body])), 'no password hash in the listing');
  assertProblem(await gh.json('GET', '/v1/admin/users?limit=0', undefined, bearer(P.access)), 400, null, 'limit=0');
  assertProblem(await gh.json('GET', '/v1/admin/users?limit=201', undefined, bearer(P.access)), 400, null, 'limit=201');

  const detail = await gh.json('GET', `/v1/admin/users/${w.manager.id}`, undefined, bearer(P.access));
  assert.equal(detail.status, 200, detail.text);
  assert.equal(detail.body.user.id, w.manager.id);
  assert.equal(detail.body.user.email, w.manager.email);
  assert.equal(detail.body.platform_admin, false);
  assert.deepEqual(detail.body.memberships, [{ tenant: w.t, role: 'manager' }]);
  const self = await gh.json('GET', `/v1/admin/users/${P.id}`, undefined, bearer(P.access));
  assert.equal(self.body.platform_admin, true);
  for (const [m, path] of [['GET', `/v1/admin/users/${randomUUID()}`], ['POST', `/v1/admin/users/${randomUUID()}/disable`],
    ['POST', `/v1/admin/users/${randomUUID()}/logout`]])
    assertProblem(await gh.json(m, path, undefined, bearer(P.access)), 404, 'not_found', `${m} ${path}`);

  // logout: every session and token of the user ends; the user can sign in again.
  const u = us[0];
  assert.equal((await gh.json('POST', `/v1/admin/users/${u.id}/logout`, undefined, bearer(P.access))).status, 204);
  assertProblem(await gh.json('GET', '/v1/me', undefined, bearer(u.access)), 401, null, 'access token after admin logout');
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: u.refresh }, { 'token-transport': 'body' })).status, 401);
  await login(gh, u);
  assert.equal((await gh.json('POST', `/v1/admin/users/${u.id}/unlock`, undefined, bearer(P.access))).status, 204);

  // A platform admin is a member of nothing yet may everything the policy knows of; revoke-admin ends that.
  const q = await register(gh, 'platform2');
  await grantPlatformAdmin(gh, q);
  assert.deepEqual(await decide(gh, basic(w.client.id, w.client.secret), { tenant: w.t, resource: 'billing', action: 'admin', subject: q.id }),
    { allowed: true, reason: 'granted' });
  const tt = await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(q.access));
  assert.equal(tt.status, 200, tt.text);
  assert.equal(tt.body.role, 'admin', 'a platform admin who is not a member gets role admin');
  assert.equal(claims(tt.body.access_token).role, 'admin');
  const r = cli(['user', 'revoke-admin', q.email, '--data-dir', gh.dataDir]);
  assert.equal(r.code, 0, r.err);
  const denied = await until(() => gh.json('GET', '/v1/admin/users', undefined, bearer(q.access)), (x) => x.status === 403);
  assertProblem(denied, 403, 'forbidden', 'after revoke-admin');
  const d = await until(() => decide(gh, basic(w.client.id, w.client.secret), { tenant: w.t, resource: 'projects', action: 'read', subject: q.id }),
    (x) => x.allowed === false);
  assert.deepEqual(d, { allowed: false, reason: 'not_member' });
  assertProblem(await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(q.access)), 403, 'forbidden', 'tenant token after revoke-admin');
  assert.notEqual(cli(['user', 'grant-admin', 'nobody-at-all@example.test', '--data-dir', gh.dataDir]).code, 0, 'grant-admin of an unknown user fails');
});

// ---------------------------------------------------------------------------
// 5. Disabled users
// ---------------------------------------------------------------------------

test('disable through the admin API ends the user\'s access at once; enable lets them sign in again', async () => {
  const w = await world('disable');
  const u = await register(gh, 'disable-u');
  await addMember(gh, w.admin, w.t, u, 'manager');
  const q = { tenant: w.t, resource: 'projects', action: 'write' };
  const viaClient = () => decide(gh, basic(w.client.id, w.client.secret), { ...q, subject: u.id });
  assert.deepEqual(await decide(gh, bearer(u.access), q), { allowed: true, reason: 'granted' });
  assert.deepEqual(await viaClient(), { allowed: true, reason: 'granted' });
  const tt = await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(u.access));
  assert.equal(tt.status, 200);

  assert.equal((await gh.json('POST', `/v1/admin/users/${u.id}/disable`, undefined, bearer(P.access))).status, 204);
  assertProblem(await gh.json('GET', '/v1/me', undefined, bearer(u.access)), 401, null, '/v1/me after disable');
  assertProblem(await gh.json('GET', '/v1/me', undefined, bearer(tt.body.access_token)), 401, null, 'tenant token after disable');
  assertProblem(await check(gh, bearer(u.access), q), 401, null, 'authz/check with the disabled user\'s token');
  assertProblem(await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(u.access)), 401, null, 'tenant token exchange after disable');
  assertProblem(await gh.json('GET', `/v1/tenants/${w.t}/members`, undefined, bearer(u.access)), 401, null, 'admin API after disable');
  assert.deepEqual(await viaClient(), { allowed: false, reason: 'not_member' });
  assert.equal((await gh.json('POST', '/v1/token/refresh', { refresh_token: u.refresh }, { 'token-transport': 'body' })).status, 401);
  assertProblem(await gh.json('POST', '/v1/login', { email: u.email, password: u.password }), 403, 'account_disabled', 'login while disabled');

  assert.equal((await gh.json('POST', `/v1/admin/users/${u.id}/enable`, undefined, bearer(P.access))).status, 204);
  // Revocation by subject has whole-second granularity (JWT iat): every token
  // minted in the second of the disable dies with it, so a sign-in within that
  // same second after enabling is refused too (docs/authz.md). Sign in until
  // the clock has left that second (bounded).
  const me = await until(async () => {
    await login(gh, u);
    return gh.json('GET', '/v1/me', undefined, bearer(u.access));
  }, (x) => x.status === 200, { timeoutMs: 3000, stepMs: 100 });
  assert.equal(me.status, 200, `a sign-in after enable works: ${me.text}`);
  assert.deepEqual(await decide(gh, bearer(u.access), q), { allowed: true, reason: 'granted' }, 'membership kept across disable/enable');
  assert.deepEqual(await viaClient(), { allowed: true, reason: 'granted' });
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(tt.body.access_token))).status, 401, 'enable revives no old token');
});

// ---------------------------------------------------------------------------
// 6. Step-up re-authentication (the second server's clock is 11 minutes ahead)
// ---------------------------------------------------------------------------

test('step-up: sensitive operations need a recent authentication (401 reauthentication_required), /v1/reauthenticate renews it', async (st) => {
  // A fixed public URL: the issuer must not change with the second server's port.
  const env = { GATEHOUSE_PUBLIC_URL: 'http://gatehouse.test', ...NO_MFA_POLICY };
  const s1 = await new Server({ env }).start();
  const dir = s1.dataDir;
  let s2;
  try {
    const pa = await grantPlatformAdmin(s1, await register(s1, 'su-platform'));
    const [ta, m, w, doomed] = await Promise.all(['su-admin', 'su-member', 'su-new', 'su-doomed'].map((x) => register(s1, x)));
    const t = await createTenant(s1, pa);
    await addMember(s1, pa, t, ta, 'admin');
    await addMember(s1, pa, t, m, 'member');
    const c = await createClient(s1, ta, t, 'su-svc');
    const tt = await s1.json('POST', '/v1/token/tenant', { tenant: t }, bearer(ta.access));
    assert.equal(tt.status, 200, tt.text);
    assert.equal(await s1.stop({ keepData: true }), 0);

    // The same data dir, the clock 11 minutes on: the tokens are still valid (15 min), their auth_time is stale (10 min).
    s2 = await new Server({ dataDir: dir, faketime: '+11m', env }).start();
    const as = (u, tok, method, path, body) => s2.json(method, path, body, bearer(tok ?? u.access));
    const sensitive = [
      [ta, 'POST', `/v1/tenants/${t}/members`, { user_id: w.id, role: 'member' }, 201],
      [ta, 'PATCH', `/v1/tenants/${t}/members/${m.id}`, { role: 'manager' }, 200],
      [ta, 'POST', `/v1/tenants/${t}/service-clients`, { name: 'later' }, 201],
      [ta, 'POST', `/v1/tenants/${t}/service-clients/${c.id}/rotate`, undefined, 200],
      [pa, 'DELETE', `/v1/admin/users/${doomed.id}`, undefined, 204],
      [ta, 'DELETE', `/v1/tenants/${t}`, undefined, 204],
    ];
    const fresh = {};

    await st.test('a stale auth_time is refused with 401 reauthentication_required, and nothing happens', async () => {
      assert.equal((await as(ta, null, 'GET', '/v1/me')).status, 200, 'the token itself is still accepted');
      for (const [u, method, path, body] of sensitive) {
        const r = await as(u, null, method, path, body);
        assertProblem(r, 401, 'reauthentication_required', `stale ${method} ${path}`);
        const www = r.headers.get('www-authenticate') ?? '';
        assert.match(www, /^Bearer /, www);
        assert.match(www, /error="insufficient_user_authentication"/, www);
        assert.match(www, /max_age=600\b/, www);
      }
      // The tenant token too (same auth_time).
      assertProblem(await as(ta, tt.body.access_token, 'POST', `/v1/tenants/${t}/service-clients`, { name: 'x' }), 401, 'reauthentication_required', 'stale tenant token');
      const members = await as(ta, null, 'GET', `/v1/tenants/${t}/members`);
      assert.equal(members.status, 200, 'listing needs no step-up');
      assert.deepEqual(members.body.members.map((x) => [x.user_id, x.role]).sort(), [[ta.id, 'admin'], [m.id, 'member']].sort());
      assert.deepEqual(await decide(s2, basic(c.id, c.secret), { tenant: t, resource: 'projects', action: 'read', subject: m.id }),
        { allowed: true, reason: 'granted' }, 'the refused rotation left the secret alone');
      assert.equal((await s2.json('POST', '/v1/login', { email: doomed.email, password: doomed.password })).status, 200, 'the user was not deleted');
      const clients = await as(ta, null, 'GET', `/v1/tenants/${t}/service-clients`);
      assert.equal(clients.status, 200);
      assert.deepEqual(clients.body.clients.map((x) => x.client_id), [c.id]);
      // Operations without step-up still work with the old token.
      assert.equal((await as(ta, null, 'PATCH', `/v1/tenants/${t}`, { name: 'Still Mine' })).status, 200);
    });

    await st.test('POST /v1/reauthenticate: wrong password 401 invalid_credentials; right one gives a fresh auth_time in the same session', async () => {
      assertProblem(await as(ta, null, 'POST', '/v1/reauthenticate', { password: `${ta.password}x` }), 401, 'invalid_credentials', 'wrong password');
      assertProblem(await s2.json('POST', '/v1/reauthenticate', { password: ta.password }), 401, null, 'reauthenticate without a token');
      const wrong = [];
      for (const u of [ta, pa]) {
        const r = await as(u, null, 'POST', '/v1/reauthenticate', { password: u.password });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.token_type, 'Bearer');
        assert.equal(typeof r.body.expires_in, 'number');
        fresh[u.id] = r.body.access_token;
        const before = claims(u.access);
        const now = claims(r.body.access_token);
        assert.equal(now.sub, before.sub);
        assert.equal(now.sid, before.sid, 'same session');
        if (!(now.auth_time >= Math.floor(Date.now() / 1000) + 600)) wrong.push(`auth_time ${now.auth_time}, want the server's (shifted) now`);
      }
      // A tenant token keeps its tenant and role through re-authentication.
      const rt = await as(ta, tt.body.access_token, 'POST', '/v1/reauthenticate', { password: ta.password });
      assert.equal(rt.status, 200, rt.text);
      assert.equal(claims(rt.body.access_token).tenant, t);
      assert.equal(claims(rt.body.access_token).role, 'admin');
      assert.deepEqual(wrong, []);
    });

    await st.test('the renewed token is accepted for each sensitive operation', async () => {
      assert.ok(fresh[ta.id] && fresh[pa.id], 'renewed tokens were issued');
      const wrong = [];
      for (const [u, method, path, body, status] of sensitive) {
        const r = await as(u, fresh[u.id], method, path, body);
        if (r.status !== status) wrong.push(`${method} ${path}: ${r.status} ${r.body?.code}`);
      }
      assert.deepEqual(wrong, []);
      assert.equal((await s2.json('POST', '/v1/login', { email: doomed.email, password: doomed.password })).status, 401, 'the user is deleted');
      assertProblem(await as(ta, fresh[ta.id], 'GET', `/v1/tenants/${t}`), 403, 'forbidden', 'the tenant is deleted');
    });
  } finally {
    if (s1.proc.exitCode === null) await s1.stop({ keepData: true });
    if (s2) assert.equal(await s2.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------
// 7. Membership changes take effect on the next check and the next tenant token
// ---------------------------------------------------------------------------

test('add, change role, remove: the very next check and the next tenant token reflect the membership', async () => {
  const w = await world('change');
  const u = await register(gh, 'change-u');
  const cl = basic(w.client.id, w.client.secret);
  const q = (resource, action) => ({ tenant: w.t, resource, action });
  const state = async () => ({
    self: await decide(gh, bearer(u.access), q('projects', 'write')),
    client: await decide(gh, cl, { ...q('projects', 'write'), subject: u.id }),
    read: await decide(gh, cl, { ...q('projects', 'read'), subject: u.id }),
  });
  const tenantToken = () => gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(u.access));
  const admin = (method, path, body) => gh.json(method, `/v1/tenants/${w.t}${path}`, body, bearer(w.admin.access));

  assert.deepEqual(await state(), { self: { allowed: false, reason: 'not_member' }, client: { allowed: false, reason: 'not_member' }, read: { allowed: false, reason: 'not_member' } });
  assertProblem(await tenantToken(), 403, 'forbidden', 'tenant token before membership');

  assert.equal((await admin('POST', '/members', { user_id: u.id, role: 'member' })).status, 201);
  assert.deepEqual(await state(), { self: { allowed: false, reason: 'not_granted' }, client: { allowed: false, reason: 'not_granted' }, read: { allowed: true, reason: 'granted' } });
  const asMember = await tenantToken();
  assert.equal(asMember.status, 200, asMember.text);
  assert.equal(asMember.body.token_type, 'Bearer');
  assert.equal(asMember.body.tenant, w.t);
  assert.equal(asMember.body.role, 'member');
  const base = claims(u.access);
  const tc = claims(asMember.body.access_token);
  assert.equal(tc.tenant, w.t);
  assert.equal(tc.role, 'member');
  assert.equal(tc.sub, base.sub);
  assert.equal(tc.sid, base.sid);
  assert.equal(tc.auth_time, base.auth_time);
  assert.ok(tc.exp <= Math.floor(Date.now() / 1000) + 900 + 5, 'no later exp than a fresh token');
  assert.ok(!('tenant' in base) && !('role' in base), 'a login token carries no tenant');
  assert.equal((await gh.json('GET', '/v1/me', undefined, bearer(asMember.body.access_token))).status, 200);

  assert.equal((await admin('PATCH', `/members/${u.id}`, { role: 'manager' })).status, 200);
  assert.deepEqual(await state(), { self: { allowed: true, reason: 'granted' }, client: { allowed: true, reason: 'granted' }, read: { allowed: true, reason: 'granted' } });
  assert.deepEqual(await decide(gh, cl, { ...q('users', 'admin'), subject: u.id }), { allowed: false, reason: 'not_granted' });
  const asManager = await tenantToken();
  assert.equal(asManager.body.role, 'manager');
  assert.equal(claims(asManager.body.access_token).role, 'manager');

  // Promoted to admin and demoted again: the admin-role token no longer opens the admin API.
  assert.equal((await admin('PATCH', `/members/${u.id}`, { role: 'admin' })).status, 200);
  const asAdmin = await tenantToken();
  assert.equal(claims(asAdmin.body.access_token).role, 'admin');
  assert.deepEqual(await decide(gh, bearer(asAdmin.body.access_token), q('users', 'admin')), { allowed: true, reason: 'granted' });
  assert.equal((await admin('PATCH', `/members/${u.id}`, { role: 'member' })).status, 200);
  assertProblem(await gh.json('PATCH', `/v1/tenants/${w.t}`, { name: 'by a stale role claim' }, bearer(asAdmin.body.access_token)), 403, 'forbidden',
    'the admin API uses the current membership, not the token\'s role claim');
  assert.deepEqual(await decide(gh, bearer(asAdmin.body.access_token), q('users', 'admin')), { allowed: false, reason: 'not_granted' },
    'authz/check uses the current membership too');
  assert.equal(claims((await tenantToken()).body.access_token).role, 'member');

  assert.equal((await admin('DELETE', `/members/${u.id}`)).status, 204);
  assert.deepEqual(await state(), { self: { allowed: false, reason: 'not_member' }, client: { allowed: false, reason: 'not_member' }, read: { allowed: false, reason: 'not_member' } });
  assertProblem(await tenantToken(), 403, 'forbidden', 'tenant token after removal');
  assert.deepEqual((await gh.json('GET', '/v1/tenants', undefined, bearer(u.access))).body.tenants, []);
  assertProblem(await admin('DELETE', `/members/${u.id}`), 404, 'not_found', 'removing twice');

  // Switching tenant = asking again; refresh gives a tenant-less token.
  const other = await createTenant(gh, P);
  await addMember(gh, P, other, u, 'manager');
  await addMember(gh, w.admin, w.t, u, 'member');
  const inW = await tenantToken();
  const switched = await gh.json('POST', '/v1/token/tenant', { tenant: other }, bearer(inW.body.access_token));
  assert.equal(switched.status, 200, switched.text);
  assert.deepEqual([claims(switched.body.access_token).tenant, claims(switched.body.access_token).role], [other, 'manager']);
  const refreshed = await gh.json('POST', '/v1/token/refresh', { refresh_token: u.refresh }, { 'token-transport': 'body' });
  assert.equal(refreshed.status, 200, refreshed.text);
  const rc = claims(refreshed.body.access_token);
  assert.ok(!('tenant' in rc) && !('role' in rc), 'refresh returns a tenant-less token');
  assertProblem(await gh.json('POST', '/v1/token/tenant', { tenant: randomUUID() }, bearer(u.access)), 403, 'forbidden', 'tenant that does not exist');
  assertProblem(await gh.json('POST', '/v1/token/tenant', { tenant: w.t, role: 'admin' }, bearer(u.access)), 400, 'unknown_field', 'asking for a role');
  assertProblem(await gh.json('POST', '/v1/token/tenant', {}, bearer(u.access)), 400, 'missing_field', 'no tenant');
});

// ---------------------------------------------------------------------------
// 8. Service clients
// ---------------------------------------------------------------------------

test('service clients: the secret is shown once, a wrong one is 401 invalid_client, rotate and delete end the old secret', async () => {
  const w = await world('svc');
  const path = `/v1/tenants/${w.t}/service-clients`;
  const as = (method, p, body) => gh.json(method, p, body, bearer(w.admin.access));
  const created = await as('POST', path, { name: 'billing-sync' });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.name, 'billing-sync');
  const { client_id: id, client_secret: secret } = created.body;
  assert.ok(id && secret && id !== secret);
  const q = { tenant: w.t, resource: 'reports', action: 'read', subject: w.member.id };

  const list = await as('GET', path);
  assert.equal(list.status, 200);
  const mine = list.body.clients.find((c) => c.client_id === id);
  assert.equal(mine.name, 'billing-sync');
  assert.ok(mine.created_at, 'created_at listed');
  assert.ok(!list.text.includes(secret) && !list.text.includes('client_secret'), 'the secret is never listed');
  assert.equal(list.body.clients.length, 2, 'the world\'s client and this one');

  assert.deepEqual(await decide(gh, basic(id, secret), q), { allowed: true, reason: 'granted' });
  for (const [what, auth] of [
    ['wrong secret', basic(id, `${secret}x`)],
    ['another client\'s secret', basic(id, w.client.secret)],
    ['unknown client', basic(randomUUID(), secret)],
    ['no colon', { authorization: `Basic ${Buffer.from(id).toString('base64')}` }],
    ['not base64', { authorization: 'Basic %%%%' }],
  ]) {
    const r = await check(gh, auth, q);
    assertProblem(r, 401, 'invalid_client', what);
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="gatehouse"', what);
  }

  const rotated = await as('POST', `${path}/${id}/rotate`);
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(rotated.body.client_id, id);
  assert.notEqual(rotated.body.client_secret, secret);
  assertProblem(await check(gh, basic(id, secret), q), 401, 'invalid_client', 'old secret after rotate');
  assert.deepEqual(await decide(gh, basic(id, rotated.body.client_secret), q), { allowed: true, reason: 'granted' });
  assert.deepEqual(await decide(gh, basic(w.client.id, w.client.secret), q), { allowed: true, reason: 'granted' }, 'the other client is unaffected');

  assert.equal((await as('DELETE', `${path}/${id}`)).status, 204);
  assertProblem(await check(gh, basic(id, rotated.body.client_secret), q), 401, 'invalid_client', 'secret after delete');
  assert.deepEqual((await as('GET', path)).body.clients.map((c) => c.client_id), [w.client.id]);
  assertProblem(await as('DELETE', `${path}/${id}`), 404, 'not_found', 'deleting twice');
  assertProblem(await as('POST', `${path}/${id}/rotate`), 404, 'not_found', 'rotating a deleted client');

  // No secret in the audit trail.
  const rows = await auditUntil(gh, w.admin.access, `/v1/tenants/${w.t}/audit`, (r) => r.filter((e) => JSON.stringify(e).includes(id)).length >= 3);
  assert.ok(rows.filter((e) => JSON.stringify(e).includes(id)).length >= 3, 'create, rotate and delete audited');
  const text = JSON.stringify(rows);
  for (const s of [secret, rotated.body.client_secret, w.client.secret]) assert.ok(!text.includes(s), 'a client secret in the audit');
  assert.ok(!(gh.stdout + gh.stderr).includes(secret) && !(gh.stdout + gh.stderr).includes(rotated.body.client_secret), 'a client secret in the logs');
});

// ---------------------------------------------------------------------------
// 9. Last admin, unknown roles, duplicates, bad bodies (mass assignment)
// ---------------------------------------------------------------------------

test('the last admin cannot be removed or demoted; unknown roles, duplicates and bad bodies are refused', async () => {
  const [a1, a2, x] = await Promise.all(['last-a1', 'last-a2', 'last-x'].map((s) => register(gh, s)));
  const t = await createTenant(gh, P);
  await addMember(gh, P, t, a1, 'admin');
  const as = (u, method, p, body) => gh.json(method, `/v1/tenants/${t}${p}`, body, bearer(u.access));

  assertProblem(await as(a1, 'DELETE', `/members/${a1.id}`), 409, 'last_admin', 'removing the last admin (self)');
  assertProblem(await as(a1, 'PATCH', `/members/${a1.id}`, { role: 'manager' }), 409, 'last_admin', 'demoting the last admin (self)');
  assertProblem(await as(P, 'DELETE', `/members/${a1.id}`), 409, 'last_admin', 'platform admin removing the last admin');
  assertProblem(await as(P, 'PATCH', `/members/${a1.id}`, { role: 'member' }), 409, 'last_admin', 'platform admin demoting the last admin');
  await addMember(gh, a1, t, a2, 'admin');
  assert.equal((await as(a2, 'PATCH', `/members/${a1.id}`, { role: 'member' })).status, 200, 'with two admins one may be demoted');
  assertProblem(await as(a2, 'DELETE', `/members/${a2.id}`), 409, 'last_admin', 'the new last admin');
  assertProblem(await as(a2, 'PATCH', `/members/${a2.id}`, { role: 'member' }), 409, 'last_admin', 'the new last admin demoted');
  assert.deepEqual((await as(a2, 'GET', '/members')).body.members.map((m) => [m.user_id, m.role]).sort(),
    [[a1.id, 'member'], [a2.id, 'admin']].sort());

  assertProblem(await as(a2, 'POST', '/members', { user_id: x.id, role: 'superuser' }), 422, 'unknown_role', 'adding with an unknown role');
  assertProblem(await as(a2, 'PATCH', `/members/${a1.id}`, { role: 'owner' }), 422, 'unknown_role', 'changing to an unknown role');
  assertProblem(await as(a2, 'PATCH', `/members/${a1.id}`, { role: 'Admin' }), 422, 'unknown_role', 'role names are exact');
  assertProblem(await as(a2, 'POST', '/members', { user_id: a1.id, role: 'manager' }), 409, 'already_member', 'adding a member again');
  assertProblem(await as(a2, 'POST', '/members', { email: a1.email, role: 'admin' }), 409, 'already_member', 'adding a member again by email');
  assertProblem(await as(a2, 'POST', '/members', { user_id: randomUUID(), role: 'member' }), 404, 'not_found', 'unknown user id');
  assertProblem(await as(a2, 'POST', '/members', { email: 'nobody-here@example.test', role: 'member' }), 404, 'not_found', 'unknown email');
  assertProblem(await as(a2, 'PATCH', `/members/${x.id}`, { role: 'manager' }), 404, 'not_found', 'changing a user who is not a member');

  // Bad bodies: 400 with a code; fields the API does not take are refused, not ignored.
  for (const [method, p, body, code] of [
    ['POST', '/members', { user_id: x.id, role: 'member', tenant: randomUUID() }, 'unknown_field'],
    ['POST', '/members', { user_id: x.id, role: 'member', platform_admin: true }, 'unknown_field'],
    ['POST', '/members', { user_id: 42, role: 'member' }, 'wrong_type'],
    ['POST', '/members', { user_id: x.id, role: ['admin'] }, 'wrong_type'],
    ['POST', '/members', { user_id: x.id }, 'missing_field'],
    ['POST', '/members', { role: 'member' }, null],
    ['POST', '/members', '{"user_id":', 'malformed_json'],
    ['POST', '/members', '[]', 'invalid_body'],
    ['POST', '/members', `{"user_id":"${x.id}","role":"member","role":"admin"}`, 'duplicate_member'],
    ['PATCH', `/members/${a1.id}`, { role: 'manager', user_id: x.id }, 'unknown_field'],
    ['PATCH', `/members/${a1.id}`, { role: 1 }, 'wrong_type'],
    ['PATCH', `/members/${a1.id}`, {}, 'missing_field'],
    ['PATCH', '', { name: 'x', id: randomUUID() }, 'unknown_field'],
    ['PATCH', '', { name: 5 }, 'wrong_type'],
    ['POST', '/service-clients', { name: 'x', client_secret: 'chosen-by-me' }, 'unknown_field'],
    ['POST', '/service-clients', { name: 'x', tenant: randomUUID() }, 'unknown_field'],
    ['POST', '/service-clients', { name: 42 }, 'wrong_type'],
    ['POST', '/service-clients', { name: null }, null],
  ]) assertProblem(await as(a2, method, p, body), 400, code, `${method} ${p} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
  assertProblem(await gh.json('POST', '/v1/tenants', { name: 'x', id: randomUUID() }, bearer(P.access)), 400, 'unknown_field', 'choosing a tenant id');
  assertProblem(await gh.json('POST', '/v1/tenants', {}, bearer(P.access)), 400, 'missing_field', 'tenant without a name');
  assertProblem(await gh.json('POST', '/v1/reauthenticate', { password: a2.password, auth_time: 1 }, bearer(a2.access)), 400, 'unknown_field', 'choosing auth_time');
  // None of it changed anything.
  assert.deepEqual((await as(a2, 'GET', '/members')).body.members.map((m) => [m.user_id, m.role]).sort(),
    [[a1.id, 'member'], [a2.id, 'admin']].sort());
  assert.deepEqual((await as(a2, 'GET', '/service-clients')).body.clients, []);
});

// ---------------------------------------------------------------------------
// 10. Audit
// ---------------------------------------------------------------------------

test('admin changes are audited with the caller as actor, refused attempts too; the tenant audit needs users:admin', async () => {
  const w = await world('audit');
  const x = await register(gh, 'audit-x');
  const as = (u, method, p, body) => gh.json(method, `/v1/tenants/${w.t}${p}`, body, bearer(u.access));
  assert.equal((await as(w.admin, 'POST', '/members', { user_id: x.id, role: 'member' })).status, 201);
  assert.equal((await as(w.admin, 'PATCH', `/members/${x.id}`, { role: 'manager' })).status, 200);
  assert.equal((await as(w.admin, 'DELETE', `/members/${x.id}`)).status, 204);
  assert.equal((await as(w.admin, 'PATCH', '', { name: 'Audited Org' })).status, 200);
  // Refused: a manager and an outsider try to add members; a tenant admin tries a platform action.
  assertProblem(await as(w.manager, 'POST', '/members', { user_id: x.id, role: 'admin' }), 403, 'forbidden', 'manager adds');
  assertProblem(await as(w.outsider, 'POST', '/members', { user_id: w.outsider.id, role: 'admin' }), 403, 'forbidden', 'outsider adds self');
  assertProblem(await gh.json('POST', `/v1/admin/users/${x.id}/disable`, undefined, bearer(w.admin.access)), 403, 'forbidden', 'tenant admin disables');

  const path = `/v1/tenants/${w.t}/audit`;
  const want = (rows) => rows.filter((e) => e.actor === w.admin.id && e.subject === x.id && e.result === 'success').length >= 3
    && rows.some((e) => e.actor === w.manager.id) && rows.some((e) => e.actor === w.outsider.id);
  const rows = await auditUntil(gh, w.admin.access, path, want);
  const mineOnX = rows.filter((e) => e.actor === w.admin.id && e.subject === x.id);
  assert.ok(mineOnX.filter((e) => e.result === 'success').length >= 3, `add, change and remove of ${x.id} by ${w.admin.id}: ${JSON.stringify(rows)}`);
  assert.equal(new Set(mineOnX.map((e) => e.action)).size, 3, 'three different actions');
  for (const e of rows) {
    if ([w.admin.id, w.manager.id, w.outsider.id].includes(e.actor)) assert.match(e.action, /^admin\./, `admin.* action: ${e.action}`);
    assert.equal(e.tenant, w.t);
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }
  assert.ok(rows.some((e) => e.actor === w.admin.id && e.result === 'success' && e.subject === w.t), 'the rename, subject = the tenant');
  assert.ok(rows.some((e) => e.actor === P.id && e.subject === w.manager.id && e.result === 'success'), 'the platform admin\'s adds');
  for (const who of [w.manager, w.outsider]) {
    const refused = rows.filter((e) => e.actor === who.id);
    assert.ok(refused.length >= 1, `refused attempt by ${who.id} audited`);
    assert.ok(refused.every((e) => e.result !== 'success'), JSON.stringify(refused));
  }
  // Filters work and stay inside the tenant.
  const byAction = await auditAll(gh, w.admin.access, `${path}?action=${encodeURIComponent(mineOnX[0].action)}`);
  assert.ok(byAction.length >= 1 && byAction.every((e) => e.action === mineOnX[0].action));
  const refusedOnly = await auditAll(gh, w.admin.access, `${path}?result=${encodeURIComponent(rows.find((e) => e.actor === w.manager.id).result)}`);
  assert.ok(refusedOnly.some((e) => e.actor === w.manager.id) && refusedOnly.every((e) => e.result !== 'success'));
  // (since/until: the API takes unix seconds; docs/authz.md does not say.)
  assert.equal((await auditAll(gh, w.admin.access, `${path}?since=32503680000`)).length, 0, 'nothing after the year 3000');
  assert.ok((await auditAll(gh, w.admin.access, `${path}?until=${Math.floor(Date.now() / 1000) + 3600}`)).length >= rows.length);

  // The platform audit has the platform-level refusal, with the tenant admin as actor.
  const platform = await auditUntil(gh, P.access, `/v1/admin/audit?user=${w.admin.id}`,
    (r) => r.some((e) => e.actor === w.admin.id && e.subject === x.id && e.result !== 'success'));
  assert.ok(platform.some((e) => e.actor === w.admin.id && e.subject === x.id && /^admin\./.test(e.action) && e.result !== 'success'),
    `refused disable audited: ${JSON.stringify(platform)}`);
  const platformTenant = await auditAll(gh, P.access, `/v1/admin/audit?tenant=${w.t}`);
  assert.ok(platformTenant.length >= rows.length && platformTenant.every((e) => e.tenant === w.t));
});

// ---------------------------------------------------------------------------
// Tokens derived from tokens never outlive them; re-authenticating does not
// keep a role the membership no longer gives (security review findings).
// ---------------------------------------------------------------------------

test('a tenant token expires no later than the token it came from, and exchanging it again does not extend it', async () => {
  const w = await world('expcap');
  const base = claims(w.member.access);
  const first = await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(w.member.access));
  assert.equal(first.status, 200, first.text);
  const second = await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(first.body.access_token));
  assert.equal(second.status, 200, second.text);
  for (const t of [first.body.access_token, second.body.access_token]) assert.ok(claims(t).exp <= base.exp, 'exp capped');
  assert.ok(second.body.expires_in <= first.body.expires_in);
});

test('re-authenticating with a tenant token re-derives the role; a removed member gets no tenant claims back', async () => {
  const w = await world('reauthrole');
  const tt = await gh.json('POST', '/v1/token/tenant', { tenant: w.t }, bearer(w.manager.access));
  assert.equal(claims(tt.body.access_token).role, 'manager');
  let r = await gh.json('POST', '/v1/reauthenticate', { password: w.manager.password }, bearer(tt.body.access_token));
  assert.equal(r.status, 200, r.text);
  assert.equal(claims(r.body.access_token).role, 'manager');
  assert.ok(claims(r.body.access_token).exp <= claims(tt.body.access_token).exp, 'exp capped');
  assert.equal((await gh.json('DELETE', `/v1/tenants/${w.t}/members/${w.manager.id}`, undefined, bearer(P.access))).status, 204);
  r = await gh.json('POST', '/v1/reauthenticate', { password: w.manager.password }, bearer(tt.body.access_token));
  assert.equal(r.status, 200, r.text);
  const c = claims(r.body.access_token);
  assert.equal(c.tenant, undefined, 'no tenant claim after removal');
  assert.equal(c.role, undefined, 'no role claim after removal');
});
