// Two gatehouse instances sharing one real Redis for browser sessions (and one
// SQLite file for users): a session made on one is valid on the other, and
// revoking it on one ends it on both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Server, signUp } from './lib/server.mjs';

const REDIS = resolve(import.meta.dirname, '../../scripts/redis-test-server.sh');
let dir; let url; let a; let b;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gh-it-redis-'));
  const r = spawnSync(REDIS, ['start', dir], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  url = readFileSync(join(dir, 'url'), 'utf8').trim() + '/3';
  const data = join(dir, 'data');
  const env = { GATEHOUSE_SESSIONS_STORE_URL: url };
  a = await new Server({ env, dataDir: data }).start();
  b = await new Server({ env, dataDir: data }).start();
});
after(async () => {
  assert.equal(await a.stop({ keepData: true }), 0);
  assert.equal(await b.stop({ keepData: true }), 0);
  spawnSync(REDIS, ['stop', dir], { timeout: 60000 });
  rmSync(dir, { recursive: true, force: true });
});

test('a session created on one instance is valid on another, and ends everywhere', async () => {
  const { email, password } = await signUp(a);
  const login = await a.json('POST', '/v1/session/login', { email, password });
  assert.equal(login.status, 200, login.text);
  const cookie = login.headers.getSetCookie()[0].split(';')[0];
  assert.equal((await fetch(b.url('/v1/forward-auth'), { headers: { cookie } })).status, 200);
  const list = await b.json('GET', '/v1/sessions', undefined, { cookie });
  assert.equal(list.body.sessions.length, 1);
  const out = await b.json('POST', '/v1/session/logout', '', { cookie, 'x-csrf-token': login.body.csrf_token });
  assert.equal(out.status, 204);
  assert.equal((await fetch(a.url('/v1/forward-auth'), { headers: { cookie } })).status, 401);
  // The session lives in Redis with a TTL, not in the SQL store.
  const keys = spawnSync('redis-cli', ['-u', url, '--scan', '--pattern', 'gh:s:*'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(keys, '', 'the ended session is gone from Redis');
});

test('restarting Redis (persistent) and then Gatehouse keeps valid sessions valid; ended ones stay ended', async () => {
  const rdir = mkdtempSync(join(tmpdir(), 'gh-it-redis-restart-'));
  const persist = join(rdir, 'aof');
  const env = { ...process.env, REDIS_PERSIST_DIR: persist };
  const start = (port) => spawnSync(REDIS, ['start', rdir, ...(port ? [port] : [])], { encoding: 'utf8', timeout: 60000, env });
  const stop = () => spawnSync(REDIS, ['stop', rdir], { encoding: 'utf8', timeout: 60000, env });
  let gh;
  try {
    assert.equal(start().status, 0);
    const rurl = readFileSync(join(rdir, 'url'), 'utf8').trim();
    const port = rurl.split(':').pop();
    const data = join(rdir, 'data');
    gh = await new Server({ env: { GATEHOUSE_SESSIONS_STORE_URL: `${rurl}/0` }, dataDir: data }).start();
    const { email, password } = await signUp(gh);
    const login = async () => {
      const r = await gh.json('POST', '/v1/session/login', { email, password });
      assert.equal(r.status, 200, r.text);
      return { cookie: r.headers.getSetCookie()[0].split(';')[0], csrf: r.body.csrf_token };
    };
    const kept = await login();
    const ended = await login();
    assert.equal((await gh.json('POST', '/v1/session/logout', '', { cookie: ended.cookie, 'x-csrf-token': ended.csrf })).status, 204);
    const status = async (cookie) => (await fetch(gh.url('/v1/forward-auth'), { headers: { cookie } })).status;
    assert.equal(await status(kept.cookie), 200);

    // Redis goes down: once forward-auth's 1 s session cache has lapsed, sessions
    // cannot be checked, and that is not a sign-in (never 200). Bounded polling.
    assert.equal(stop().status, 0);
    let down = 200;
    for (const deadline = Date.now() + 10000; down === 200 && Date.now() < deadline;) {
      down = await status(kept.cookie);
      if (down === 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.notEqual(down, 200, 'fails closed while Redis is down');
    assert.equal(start(port).status, 0, 'Redis restarts on its port with its append-only file');
    // The store reconnects on its own; bounded retries, no fixed sleep.
    let after = 0;
    for (let i = 0; i < 50 && after !== 200; i += 1) after = await status(kept.cookie);
    assert.equal(after, 200, 'the session survived the Redis restart');
    assert.equal(await status(ended.cookie), 401, 'an ended session stays ended');

    // Gatehouse restarts: the same cookie still works.
    assert.equal(await gh.stop({ keepData: true }), 0);
    gh = await new Server({ env: { GATEHOUSE_SESSIONS_STORE_URL: `${rurl}/0` }, dataDir: data }).start();
    assert.equal(await status(kept.cookie), 200);
    assert.equal(await status(ended.cookie), 401);
  } finally {
    if (gh) await gh.stop({ keepData: true });
    stop();
    rmSync(rdir, { recursive: true, force: true });
  }
});
