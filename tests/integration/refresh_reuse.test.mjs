// Refresh-token reuse detection and concurrent refresh (the documented outcome).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, signUp } from './lib/server.mjs';

const bodyTransport = { 'token-transport': 'body' };
const refresh = (s, token) => s.json('POST', '/v1/token/refresh', { refresh_token: token }, bodyTransport);

test('replaying a rotated token revokes the whole family and is audited (grace window off)', async () => {
  const s = await new Server({ env: { GATEHOUSE_TOKENS_REFRESH_GRACE_S: '0' } }).start();
  try {
    const { res } = await signUp(s);
    const r0 = res.body.refresh_token;
    const r1 = await refresh(s, r0);
    assert.equal(r1.status, 200);
    const r2 = await refresh(s, r1.body.refresh_token);
    assert.equal(r2.status, 200);
    const replay = await refresh(s, r0);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.code, 'refresh_token_reused');
    // Every token of the family is dead, including the legitimate newest one and its access token.
    assert.equal((await refresh(s, r2.body.refresh_token)).status, 401);
    assert.equal((await refresh(s, r1.body.refresh_token)).status, 401);
    assert.equal((await s.json('GET', '/v1/me', undefined, { authorization: `Bearer ${r2.body.access_token}` })).status, 401);
    // The audit stream recorded the reuse, without the token.
    await waitFor(() => s.stdout.includes('"action":"token.refresh_reuse"'));
    const line = s.stdout.split('\n').find((l) => l.includes('token.refresh_reuse'));
    for (const t of [r0, r1.body.refresh_token, r2.body.refresh_token]) assert.ok(!s.stdout.includes(t), 'no token in logs');
    assert.match(line, /"result":"family_revoked"/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('50 concurrent refreshes of one token: one rotation, every caller gets the same child, no second branch', async () => {
  const s = await new Server().start();  // default grace window: 10 s
  try {
    const { res } = await signUp(s);
    const r0 = res.body.refresh_token;
    const results = await Promise.all(Array.from({ length: 50 }, () => refresh(s, r0)));
    const statuses = results.map((r) => r.status);
    assert.deepEqual([...new Set(statuses)], [200], `statuses: ${statuses}`);
    const children = new Set(results.map((r) => r.body.refresh_token));
    assert.equal(children.size, 1, 'exactly one child refresh token');
    const [child] = children;
    assert.notEqual(child, r0);
    // The child is live and rotates normally; then the parent is no longer the immediate parent.
    const next = await refresh(s, child);
    assert.equal(next.status, 200);
    const late = await refresh(s, r0);
    assert.equal(late.status, 401);
    assert.equal(late.body.code, 'refresh_token_reused');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

async function waitFor(cond, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
