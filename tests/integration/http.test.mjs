// Transport behaviour of the real binary: problem+json for every bad-input
// class, limits, timeouts, smuggling, overload, ops endpoints, shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, rawRequest, uniqueEmail, goodPassword } from './lib/server.mjs';

let gh;
before(async () => { gh = await new Server({ env: { GATEHOUSE_SERVER_READ_TIMEOUT_S: '1' } }).start(); });
after(async () => { assert.equal(await gh.stop(), 0); });

function assertProblem(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  assert.equal(r.body.status, status);
  if (code) assert.equal(r.body.code, code);
  assert.ok(r.body.type && r.body.title, 'RFC 9457 members');
  assert.equal(r.body.request_id, r.headers.get('x-request-id'));
}

test('healthz, readyz and metrics', async () => {
  const h = await fetch(gh.url('/healthz'));
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: 'ok' });
  const r = await gh.json('GET', '/readyz');
  assert.equal(r.status, 200);
  assert.equal(r.body.store, 'sqlite');
  await gh.json('POST', '/v1/login', { email: uniqueEmail('m'), password: goodPassword() });
  const m = await fetch(gh.url('/metrics'));
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /^text\/plain; version=0.0.4/);
  const text = await m.text();
  assert.match(text, /gatehouse_http_requests_total\{route="\/healthz",status="200"\} \d+/);
  assert.match(text, /gatehouse_http_request_duration_seconds_bucket\{route="\/v1\/login",le="\+Inf"\} \d+/);
  assert.match(text, /gatehouse_logins_total\{outcome="invalid_credentials"\} [1-9]/);
  assert.match(text, /gatehouse_hash_pool_queue_depth \d+/);
});

test('every bad-input class gets a 4xx problem with a stable code', async () => {
  const cases = [
    ['{"email":', 400, 'malformed_json'],
    ['[1,2]', 400, 'invalid_body'],
    ['"str"', 400, 'invalid_body'],
    ['{"email":1,"password":"x"}', 400, 'wrong_type'],
    ['{"password":"long-enough-password-1"}', 400, 'missing_field'],
    ['{"email":"a@b.test","password":"a\\u0000bcdefghijklmnop"}', 400, 'invalid_characters'],
    ['{"email":"a@b.test","email":"c@d.test","password":"long-enough-password-1"}', 400, 'duplicate_member'],
    ['{"email":"a@b.test","password":"long-enough-password-1","role":"admin"}', 400, 'unknown_field'],
    [`{"email":"${'a'.repeat(400)}@b.test","password":"x"}`, 400, 'field_too_long'],
    ['{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}', 400, 'json_too_deep'],
    ['', 400, 'malformed_json'],
  ];
  for (const [body, status, code] of cases) {
    const r = await gh.json('POST', '/v1/register', body);
    assertProblem(r, status, code);
  }
  // Invalid UTF-8 needs raw bytes.
  const bad = await fetch(gh.url('/v1/register'), {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: Buffer.concat([Buffer.from('{"email":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('@b.test","password":"long-enough-password-1"}')]),
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).code, 'invalid_utf8');
});

test('unknown content type is 415', async () => {
  const r = await gh.json('POST', '/v1/login', 'email=a&password=b', { 'content-type': 'application/x-www-form-urlencoded' });
  assertProblem(r, 415, 'unsupported_media_type');
  const none = await fetch(gh.url('/v1/login'), { method: 'POST', body: '{}' , headers: { 'content-type': '' } });
  assert.equal(none.status, 415);
});

test('body over the limit is 413 and the connection closes', async () => {
  const r = await gh.json('POST', '/v1/register', JSON.stringify({ email: 'a@b.test', password: 'x'.repeat(70 * 1024) }));
  assertProblem(r, 413, 'payload_too_large');
  const raw = await rawRequest(gh.addr, `POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{`);
  assert.match(raw.data, /^HTTP\/1\.1 413/);
  assert.ok(raw.closed);
});

test('huge headers are 431', async () => {
  const raw = await rawRequest(gh.addr, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
  assert.match(raw.data, /^HTTP\/1\.1 431/);
  assert.ok(raw.closed);
});

test('request smuggling shapes are refused with 400 and close', async () => {
  const shapes = [
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /v1/login HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  ];
  for (const s of shapes) {
    const raw = await rawRequest(gh.addr, s);
    assert.match(raw.data, /^HTTP\/1\.1 400/, JSON.stringify(s));
    assert.ok(raw.closed, 'connection closed after a malformed message');
    assert.equal(raw.data.match(/HTTP\/1\.1 /g).length, 1, 'nothing smuggled behind it was served');
  }
});

test('a well-formed chunked request is accepted', async () => {
  const body = '{"email":"a@b.test","password":"some-long-password-1"}';
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const raw = await rawRequest(gh.addr, `POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
  assert.match(raw.data, /^HTTP\/1\.1 401/);
});

test('a slow request (slowloris) is cut off by the read timeout', async () => {
  // Read timeout is 1 s for this server; the partial request never completes.
  const raw = await rawRequest(gh.addr, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', { timeoutMs: 8000 });
  assert.ok(raw.closed, 'server closed the connection');
  assert.ok(!raw.data.startsWith('HTTP/1.1 200'));
});

test('keep-alive serves several requests on one connection', async () => {
  const raw = await rawRequest(gh.addr,
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(raw.data.match(/HTTP\/1\.1 200/g)?.length, 2);
});

test('unknown route is 404 and wrong method is 405 with Allow', async () => {
  assertProblem(await gh.json('GET', '/v1/users/123'), 404, 'not_found');
  assertProblem(await gh.json('GET', '/nope'), 404, 'not_found');
  const r = await gh.json('GET', '/v1/login');
  assertProblem(r, 405, 'method_not_allowed');
  assert.equal(r.headers.get('allow'), 'POST');
});

test('a full hash pool answers 503 with Retry-After instead of queueing', async () => {
  const s = await new Server({ env: {
    GATEHOUSE_HASH_POOL_THREADS: '1', GATEHOUSE_HASH_POOL_QUEUE_LIMIT: '0',
    GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB: '65536', GATEHOUSE_PASSWORD_ARGON2_ITERATIONS: '4',
  } }).start();
  try {
    const attempts = await Promise.all(Array.from({ length: 12 }, () =>
      s.json('POST', '/v1/login', { email: uniqueEmail('flood'), password: goodPassword() })));
    const statuses = attempts.map((r) => r.status);
    assert.ok(statuses.includes(503), `expected some 503: ${statuses}`);
    assert.ok(statuses.includes(401), `expected some served: ${statuses}`);
    const rejected = attempts.find((r) => r.status === 503);
    assert.equal(rejected.headers.get('retry-after'), '1');
    assert.equal(rejected.body.code, 'overloaded');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('graceful shutdown finishes the request in flight, then exits 0', async () => {
  const s = await new Server().start();
  const email = uniqueEmail('drain');
  const password = goodPassword();
  assert.equal((await s.json('POST', '/v1/register', { email, password })).status, 201);
  const body = JSON.stringify({ email, password });
  const [host, port] = s.addr.split(':');
  const net = await import('node:net');
  const sock = net.connect(Number(port), host);
  let data = '';
  const closed = new Promise((res) => sock.on('close', res));
  sock.on('data', (d) => { data += d; });
  await new Promise((res) => sock.on('connect', res));
  // Half a request: the server is now mid-request when SIGTERM arrives.
  sock.write(`POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  // Make sure the server has the first bytes before we signal: a second connection's
  // health check is answered only after the event loop has run past our write.
  assert.equal((await fetch(s.url('/healthz'))).status, 200);
  s.proc.kill('SIGTERM');
  sock.write(body.slice(10));
  await closed;
  assert.match(data, /^HTTP\/1\.1 200/);
  assert.match(data, /Connection: close/i);
  const [code] = await s.exited;
  assert.equal(code, 0);
  // New connections are refused after shutdown.
  await assert.rejects(fetch(s.url('/healthz')));
});
