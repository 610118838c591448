// forward-auth per-route permissions (authz.forward_auth_rules) and the hosted
// step-up page (/reauth) — docs/authz.md. The step-up part restarts the server
// on the same data dir with its clock 11 minutes ahead (libfaketime), so the
// browser session's auth_time is stale while the session itself is still live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, cli } from './lib/server.mjs';
import { bearer, register, grantPlatformAdmin, createTenant, addMember, assertProblem, NO_MFA_POLICY } from './lib/authz.mjs';

const RULES = '/admin/=users:admin, /reports/=reports:read, /billing/=billing:write';
const ENV = { GATEHOUSE_AUTHZ_FORWARD_AUTH_RULES: RULES, GATEHOUSE_PUBLIC_URL: 'http://127.0.0.1:1', ...NO_MFA_POLICY };

let gh;
let dataDir;
let world;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gh-fa-'));
  gh = await new Server({ dataDir, env: ENV }).start();
  const platform = await grantPlatformAdmin(gh, await register(gh, 'fa-platform'));
  const t = await createTenant(gh, platform);
  const users = {};
  for (const role of ['admin', 'manager', 'member']) {
    users[role] = await register(gh, `fa-${role}`);
    await addMember(gh, platform, t, users[role], role);
  }
  users.outsider = await register(gh, 'fa-outsider');
  world = { t, users, platform };
});
after(async () => {
  await gh?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function tenantToken(u) {
  const r = await gh.json('POST', '/v1/token/tenant', { tenant: world.t }, bearer(u.access));
  assert.equal(r.status, 200, r.text);
  return r.body.access_token;
}

function forwardAuth(headers, path) {
  const h = { ...headers };
  if (path !== undefined) h['x-original-url'] = `https://app.example${path}`;
  return fetch(gh.url('/v1/forward-auth'), { headers: h, redirect: 'manual' });
}

test('forward-auth enforces the longest matching rule with the tenant token\'s role', async () => {
  const expect = {
    // path: [admin, manager, member]
    '/admin/settings': [200, 403, 403],
    '/reports/q3': [200, 200, 200],
    '/billing/pay': [200, 403, 403],
    '/projects/1': [200, 200, 200],  // no rule: signed in is enough
  };
  for (const role of ['admin', 'manager', 'member']) {
    const token = await tenantToken(world.users[role]);
    for (const [path, statuses] of Object.entries(expect)) {
      const res = await forwardAuth(bearer(token), path);
      const want = statuses[['admin', 'manager', 'member'].indexOf(role)];
      assert.equal(res.status, want, `${role} ${path}`);
      if (want === 200) {
        assert.equal(res.headers.get('x-auth-user-id'), world.users[role].id);
        assert.equal(res.headers.get('x-auth-tenant'), world.t);
        assert.equal(res.headers.get('x-auth-role'), role);
      } else {
        assert.equal((await res.json()).code, 'forbidden');
        assert.equal(res.headers.get('x-auth-user-id'), null, 'no identity headers on a refusal');
      }
    }
  }
});

test('every spelling of a protected path meets its rule; an unreadable path is refused', async () => {
  const member = await tenantToken(world.users.member);
  for (const path of ['/ADMIN/x', '/%61dmin/x', '/public/../admin/x', '/public/%2e%2e/admin/x', '//admin//x',
    '/public%2F..%2Fadmin/x', '/admin', '/x/..\\admin\\y', '/admin/x?next=/public',
    // the security review's bypasses of an earlier, resolving normaliser:
    '/admin/%2e%2e/x', '/admin/..%2fx', '/admin%2f..%2fx', '/admin;x/y', '/public/..;/admin/x', '/admin./x', '/%2561dmin/x']) {
    assert.equal((await forwardAuth(bearer(member), path)).status, 403, path);
  }
  for (const path of ['/a%zz', '/a%00b', '/a%0d%0a']) assert.equal((await forwardAuth(bearer(member), path)).status, 403, path);
  assert.equal((await forwardAuth(bearer(member))).status, 403, 'no X-Original-URL: fail closed');
  assert.equal((await forwardAuth(bearer(member), '/administrator')).status, 200, '"/admin/" is a directory prefix');
  // Traefik's X-Forwarded-Uri and X-Original-URI are read too; two path headers that disagree are refused.
  const viaTraefik = await fetch(gh.url('/v1/forward-auth'), { headers: { ...bearer(member), 'x-forwarded-uri': '/Admin/' } });
  assert.equal(viaTraefik.status, 403);
  const viaUri = await fetch(gh.url('/v1/forward-auth'), { headers: { ...bearer(member), 'x-original-uri': '/admin/x' } });
  assert.equal(viaUri.status, 403);
  const smuggled = await fetch(gh.url('/v1/forward-auth'), {
    headers: { ...bearer(member), 'x-original-url': 'https://app.example/admin/x', 'x-forwarded-uri': '/public' },
  });
  assert.equal(smuggled.status, 403, 'a client-added path header next to the proxy\'s');
  const agree = await fetch(gh.url('/v1/forward-auth'), {
    headers: { ...bearer(member), 'x-original-url': 'https://app.example/public', 'x-original-uri': '/public' },
  });
  assert.equal(agree.status, 200);
});

test('a tenant-less token: the proxy\'s X-Gatehouse-Tenant names the tenant; outsiders and unknown tenants are refused', async () => {
  const { admin, member, outsider } = world.users;
  const withTenant = (u, t) => ({ ...bearer(u.access), 'x-gatehouse-tenant': t });
  let res = await forwardAuth(withTenant(admin, world.t), '/admin/x');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-auth-role'), 'admin');
  assert.equal((await forwardAuth(withTenant(member, world.t), '/admin/x')).status, 403);
  assert.equal((await forwardAuth(withTenant(outsider, world.t), '/reports/x')).status, 403);
  assert.equal((await forwardAuth(withTenant(admin, '00000000-0000-4000-8000-000000000000'), '/reports/x')).status, 403);
  assert.equal((await forwardAuth(bearer(admin.access), '/reports/x')).status, 403, 'no tenant at all: not a member');
  // No rule and no tenant: signed in is enough, and no tenant headers are invented.
  res = await forwardAuth(bearer(outsider.access), '/projects/1');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-auth-tenant'), null);
  assert.equal(res.headers.get('x-auth-role'), null);
  // The proxy's tenant is authoritative: a token for another tenant is refused, not used instead.
  const other = await createTenant(gh, world.platform);
  await addMember(gh, world.platform, other, admin, 'admin');
  const otherToken = (await gh.json('POST', '/v1/token/tenant', { tenant: other }, bearer(admin.access))).body.access_token;
  res = await forwardAuth({ ...bearer(otherToken), 'x-gatehouse-tenant': world.t }, '/reports/x');
  assert.equal(res.status, 403, 'a token for tenant B at tenant A\'s app');
  assert.equal((await forwardAuth({ ...bearer(otherToken), 'x-gatehouse-tenant': 'x'.repeat(65) }, '/projects/1')).status, 403, 'overlong tenant');
  // A membership change applies to the next forward-auth answer.
  const demote = await gh.json('PATCH', `/v1/tenants/${world.t}/members/${member.id}`, { role: 'admin' }, bearer(world.platform.access));
  assert.equal(demote.status, 200, demote.text);
  assert.equal((await forwardAuth(withTenant(member, world.t), '/admin/x')).status, 200);
  const back = await gh.json('PATCH', `/v1/tenants/${world.t}/members/${member.id}`, { role: 'member' }, bearer(world.platform.access));
  assert.equal(back.status, 200, back.text);
  assert.equal((await forwardAuth(withTenant(member, world.t), '/admin/x')).status, 403);
});

test('an invalid rule stops the server at start, naming the rule', () => {
  for (const [rules, why] of [['/admin/=users', 'resource:action'], ['/admin/=nope:read', "unknown resource 'nope'"],
    ['/a/../admin/=users:admin', 'normalised']]) {
    const r = cli(['serve', '--dev', '--listen', '127.0.0.1:0', '--data-dir', dataDir], { env: { GATEHOUSE_AUTHZ_FORWARD_AUTH_RULES: rules } });
    assert.equal(r.code, 2, `${rules}: ${r.out}${r.err}`);
    assert.match(r.err, /authz\.forward_auth_rules: .*rule 1: /);
    assert.ok(r.err.includes(why), r.err);
  }
});

// --- Hosted step-up ----------------------------------------------------------

const cookieOf = (res, name) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const pair = (setCookie) => setCookie.split(';')[0];
const hidden = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];

async function post(server, path, fields, cookie) {
  const res = await fetch(server.url(path), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ENV.GATEHOUSE_PUBLIC_URL, 'sec-fetch-site': 'same-origin', cookie },
    body: new URLSearchParams(fields).toString(),
  });
  return { res, html: await res.text() };
}

async function signIn(server, u) {
  const page = await fetch(server.url('/login'));
  const html = await page.text();
  const form = pair(cookieOf(page, '__Host-gh_form'));
  const { res } = await post(server, '/login', { csrf: hidden(html, 'csrf'), return_to: '', email: u.email, password: u.password }, form);
  assert.equal(res.status, 303);
  return pair(cookieOf(res, '__Host-gh_session'));
}

async function account(server, cookie) {
  const res = await fetch(server.url('/account'), { headers: { cookie }, redirect: 'manual' });
  assert.equal(res.status, 200);
  const html = await res.text();
  return { html, csrf: hidden(html, 'csrf') };
}

test('signing other devices out needs a recent authentication: the page asks for the password and then goes on', async () => {
  const u = await register(gh, 'stepup-page');
  const here = await signIn(gh, u);
  const elsewhere = await signIn(gh, u);
  // Fresh sign-in: allowed at once.
  let { csrf } = await account(gh, here);
  let r = await post(gh, '/account/sessions/revoke-others', { csrf }, here);
  assert.equal(r.res.status, 303);
  assert.equal((await fetch(gh.url('/v1/session'), { headers: { cookie: elsewhere } })).status, 401, 'the other device is out');

  // Eleven minutes later (same data, clock moved): the session is live but its authentication is stale.
  const third = await signIn(gh, u);
  // A bearer token and a session of the same age, for the JSON API's step-up checks below.
  const api = await gh.json('POST', '/v1/login', { email: u.email, password: u.password }, { 'token-transport': 'body' });
  assert.equal(api.status, 200, api.text);
  const stale = await signIn(gh, u);
  await gh.stop({ keepData: true });
  const later = await new Server({ dataDir, env: ENV, faketime: '+11m' }).start();
  try {
    ({ csrf } = await account(later, here));
    r = await post(later, '/account/sessions/revoke-others', { csrf }, here);
    assert.equal(r.res.status, 200, 'the re-authentication form instead of the action');
    assert.match(r.html, /action="\/reauth"/);
    assert.equal((await fetch(later.url('/v1/session'), { headers: { cookie: third } })).status, 200, 'nothing was revoked yet');
    const sessionHandle = hidden((await account(later, here)).html, 'id');
    r = await post(later, '/account/sessions/revoke', { csrf, id: sessionHandle ?? 'x' }, here);
    assert.equal(r.res.status, 200, 'signing one device out asks too');
    assert.match(r.html, /action="\/reauth"/);

    // The JSON API asks for the same: signing another device out, or every device, with a stale authentication.
    const info = await later.json('GET', '/v1/session', undefined, { cookie: stale });
    assert.equal(info.status, 200, info.text);
    const others = await later.json('GET', '/v1/sessions', undefined, { cookie: stale });
    const otherId = others.body.sessions.find((x) => !x.current).id;
    const del = await later.json('DELETE', `/v1/sessions/${otherId}`, undefined,
      { cookie: stale, 'x-csrf-token': info.body.csrf_token, origin: ENV.GATEHOUSE_PUBLIC_URL });
    assert.equal(del.status, 401, del.text);
    assert.equal(del.body.code, 'reauthentication_required');
    assert.match(del.headers.get('www-authenticate'), /insufficient_user_authentication/);
    const all = await later.json('POST', '/v1/logout/all', undefined, bearer(api.body.access_token));
    assert.equal(all.status, 401, all.text);
    assert.equal(all.body.code, 'reauthentication_required');
    assert.equal((await later.json('GET', '/v1/session', undefined, { cookie: third })).status, 200, 'nothing ended');
    // A wrong password is refused; the CSRF token is required.
    const form = await fetch(later.url('/reauth?return_to=%2Faccount'), { headers: { cookie: here } });
    const formHtml = await form.text();
    assert.equal(form.status, 200);
    assert.equal(hidden(formHtml, 'return_to'), '/account');
    r = await post(later, '/reauth', { csrf, return_to: '/account', password: 'not-the-password-at-all' }, here);
    assert.equal(r.res.status, 401);
    r = await post(later, '/reauth', { csrf: 'forged', return_to: '/account', password: u.password }, here);
    assert.equal(r.res.status, 403);
    r = await post(later, '/reauth', { csrf, return_to: 'https://evil.example/', password: u.password }, here);
    assert.equal(r.res.status, 303, 'an off-site return_to is dropped, not followed');
    assert.ok(!r.res.headers.get('location').includes('evil'), r.res.headers.get('location'));
    // The re-authenticated browser has a new session id; the old cookie is dead.
    const renewed = pair(cookieOf(r.res, '__Host-gh_session'));
    assert.notEqual(renewed, here);
    assert.equal((await fetch(later.url('/v1/session'), { headers: { cookie: here } })).status, 401, 'the old id is gone');
    ({ csrf } = await account(later, renewed));
    r = await post(later, '/account/sessions/revoke-others', { csrf }, renewed);
    assert.equal(r.res.status, 303);
    assert.match(r.res.headers.get('location'), /notice=others_signed_out/);
    assert.equal((await fetch(later.url('/v1/session'), { headers: { cookie: third } })).status, 401, 'now the other device is out');
    // Audited as a re-authentication.
    const audit = cli(['audit', '--user', u.id, '--action', 'user.reauthenticate', '--data-dir', dataDir]);
    assert.equal(audit.code, 0, audit.err);
    const results = audit.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).result);
    assert.ok(results.includes('success') && results.includes('wrong_password'), audit.out);
  } finally {
    await later.stop({ keepData: true });
    gh = await new Server({ dataDir, env: ENV }).start();  // for after()
  }
});
