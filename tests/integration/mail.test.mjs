// Email delivery (issue #8): `gatehouse mail test` through both backends.
// The SMTP peer is a real server on loopback: Debian's aiosmtpd with its
// Maildir handler (one file per mail). Messages are parsed back with Python's
// `email` package, an implementation independent of ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './lib/server.mjs';
import { Sink, freePort, parseEml } from './lib/smtp.mjs';

function tempDir(tag) { return mkdtempSync(join(tmpdir(), `gh-mail-${tag}-`)); }

// `gatehouse mail test` against a data dir; returns { code, out, err, result (the JSON line) }.
function mailTest(dataDir, to, { env = {}, wait = 10 } = {}) {
  const r = spawnSync(BIN, ['mail', 'test', '--to', to, '--data-dir', dataDir, '--wait', String(wait)],
    { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: (wait + 30) * 1000 });
  let result = null;
  try { result = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { /* no JSON line */ }
  return { code: r.status, out: r.stdout, err: r.stderr, result };
}

function spoolFiles(dataDir) {
  const dir = join(dataDir, 'mail-spool');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'failed').sort() : [];
}

const SUBJECT = 'Gatehouse test message \u2713';

function assertTestMessage(mail, { to }) {
  assert.deepEqual(mail.defects, [], 'no MIME defects');
  assert.equal(mail.subject, SUBJECT, 'RFC 2047 subject decodes to the UTF-8 original');
  assert.equal(mail.to, to);
  assert.equal(mail.content_type, 'multipart/alternative');
  assert.match(mail.text, /This is a test message from Gatehouse/);
  assert.match(mail.text, /à bientôt/, 'UTF-8 body intact through quoted-printable');
  assert.match(mail.html, /<p>Mail delivery works \(à bientôt\)\.<\/p>/);
  assert.match(mail.message_id, /^<[A-Za-z0-9_-]{20,}@127\.0\.0\.1>$/, 'random Message-ID at the public host');
  assert.ok(Math.abs(Date.parse(mail.date) - Date.now()) < 120000, `Date is now: ${mail.date}`);
}

test('outbox backend (the default): one parseable .eml, mode 0600, in <data_dir>/outbox', () => {
  const dir = tempDir('outbox');
  try {
    const r = mailTest(dir, 'Ada Lovelace <ada@example.test>');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.result.backend, 'outbox');
    assert.equal(r.result.state, 'delivered');
    const outbox = join(dir, 'outbox');
    assert.deepEqual(readdirSync(outbox), [`${r.result.id}.eml`], 'one file, no temporary left');
    assert.equal(r.result.file, join(outbox, `${r.result.id}.eml`));
    assert.match(r.result.id, /^\d{8}T\d{6}Z-\d{6}-[0-9a-f]{16}$/, 'name sorts by time');
    assert.equal(statSync(r.result.file).mode & 0o777, 0o600);
    assert.equal(statSync(outbox).mode & 0o777, 0o700);
    const raw = readFileSync(r.result.file, 'latin1');
    assert.ok(!/[^\r]\n/.test(raw) && !/\r[^\n]/.test(raw), 'CRLF line endings only');
    assert.ok(raw.split('\r\n').every((l) => l.length <= 78), 'no line over 78 characters');
    assertTestMessage(parseEml(r.result.file), { to: 'Ada Lovelace <ada@example.test>' });
    assert.ok(!r.err.includes('bientôt') && !r.err.includes('test message from'), 'no body in the logs');

    // A second message: its own file, named no earlier (to the second; then a sequence and randomness).
    const r2 = mailTest(dir, 'ada@example.test');
    assert.equal(r2.code, 0, r2.err);
    assert.deepEqual(readdirSync(outbox).sort(), [`${r.result.id}.eml`, `${r2.result.id}.eml`].sort());
    assert.ok(r2.result.id.slice(0, 16) >= r.result.id.slice(0, 16));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('header injection through the recipient is refused and nothing is written', () => {
  const dir = tempDir('inject');
  try {
    for (const to of ['ada@example.test\r\nBcc: eve@attacker.test', 'ada@example.test\nBcc: eve@attacker.test']) {
      const r = mailTest(dir, to);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /line break/);
    }
    const bad = mailTest(dir, 'ada@example.test, eve@attacker.test');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /not a single valid mail address/);
    assert.deepEqual(existsSync(join(dir, 'outbox')) ? readdirSync(join(dir, 'outbox')) : [], []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('SMTP: the message arrives intact at a real SMTP server', async () => {
  const dir = tempDir('smtp');
  const sink = await new Sink(await freePort(), dir).start();
  try {
    const env = {
      GATEHOUSE_MAIL_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      GATEHOUSE_MAIL_SMTP_TLS: 'none',
      GATEHOUSE_MAIL_FROM: 'Gatehouse Tests <auth@gatehouse.test>',
    };
    const r = mailTest(join(dir, 'data'), 'Jérôme Müller <jm@example.test>', { env });
    assert.equal(r.code, 0, `${r.out}\n${r.err}\n${sink.log}`);
    assert.equal(r.result.backend, 'smtp');
    assert.equal(r.result.state, 'delivered');
    assert.equal(r.result.pending, 0);
    const files = sink.files();
    assert.equal(files.length, 1);
    const mail = parseEml(files[0]);
    assertTestMessage(mail, { to: 'Jérôme Müller <jm@example.test>' });
    assert.equal(mail.from, 'Gatehouse Tests <auth@gatehouse.test>');
    assert.equal(mail.x_mailfrom, 'auth@gatehouse.test', 'envelope sender is the mail.from address');
    assert.equal(mail.x_rcptto, 'jm@example.test', 'envelope recipient is the address alone');
    assert.deepEqual(spoolFiles(join(dir, 'data')), [], 'delivered mail leaves the spool');
    assert.equal(statSync(join(dir, 'data', 'mail-spool')).mode & 0o777, 0o700);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SMTP: STARTTLS is required by default, so a server without it gets nothing', async () => {
  const dir = tempDir('tls');
  const sink = await new Sink(await freePort(), dir).start();
  try {
    const data = join(dir, 'data');
    const r = mailTest(data, 'ada@example.test', { env: { GATEHOUSE_MAIL_SMTP_URL: `smtp://127.0.0.1:${sink.port}` }, wait: 1 });
    assert.equal(r.code, 1, r.err);
    assert.equal(r.result.state, 'queued');
    assert.match(r.result.last_error, /STARTTLS/);
    assert.deepEqual(sink.files(), [], 'nothing sent in clear text');
    assert.deepEqual(spoolFiles(data), [`${r.result.id}.eml`, `${r.result.id}.json`], 'kept for a later try');
    // Clear text is only for loopback servers.
    const off = mailTest(data, 'ada@example.test', { env: { GATEHOUSE_MAIL_SMTP_URL: 'smtp://mail.example.test:25', GATEHOUSE_MAIL_SMTP_TLS: 'none' } });
    assert.equal(off.code, 2);
    assert.match(off.err, /only allowed for a loopback SMTP server/);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SMTP: server down -> the message stays spooled -> server up -> delivered by the next sender, nothing lost', async () => {
  const dir = tempDir('restart');
  const data = join(dir, 'data');
  const port = await freePort();
  const env = { GATEHOUSE_MAIL_SMTP_URL: `smtp://127.0.0.1:${port}`, GATEHOUSE_MAIL_SMTP_TLS: 'none' };
  // 1. Nothing listens: the CLI gives up waiting, the message is on disk.
  const down = mailTest(data, 'first@example.test', { env, wait: 1 });
  assert.equal(down.code, 1, down.err);
  assert.equal(down.result.state, 'queued');
  assert.ok(down.result.attempts >= 1);
  assert.match(down.result.last_error, /connect/i);
  assert.deepEqual(spoolFiles(data), [`${down.result.id}.eml`, `${down.result.id}.json`]);
  const meta = JSON.parse(readFileSync(join(data, 'mail-spool', `${down.result.id}.json`), 'utf8'));
  assert.equal(meta.to, 'first@example.test');
  assert.equal(meta.attempts, down.result.attempts);
  assert.ok(meta.next_attempt_at > meta.queued_at, 'a retry is scheduled');
  assert.equal(statSync(join(data, 'mail-spool', `${down.result.id}.eml`)).mode & 0o777, 0o600);
  const spooled = parseEml(join(data, 'mail-spool', `${down.result.id}.eml`));
  assert.ok(!down.err.includes('à bientôt'), 'no body in the logs');

  // 2. The server comes up; a new process (the sender restarted) picks up the spool.
  const sink = await new Sink(port, dir).start();
  try {
    const up = mailTest(data, 'second@example.test', { env, wait: 30 });
    assert.equal(up.code, 0, `${up.out}\n${up.err}`);
    assert.equal(up.result.state, 'delivered');
    assert.equal(up.result.pending, 0, 'the whole spool was delivered');
    const mails = sink.files().map(parseEml);
    assert.equal(mails.length, 2);
    const first = mails.find((m) => m.x_rcptto === 'first@example.test');
    assert.ok(first, 'the message queued while the server was down arrived');
    assert.equal(first.message_id, spooled.message_id, 'the very message that was spooled');
    assertTestMessage(first, { to: 'first@example.test' });
    assert.ok(mails.some((m) => m.x_rcptto === 'second@example.test'));
    assert.deepEqual(spoolFiles(data), []);
    assert.deepEqual(readdirSync(join(data, 'mail-spool', 'failed')), []);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the SMTP password is redacted in --print-config', () => {
  const dir = tempDir('cfg');
  try {
    const r = spawnSync(BIN, ['serve', '--print-config', '--data-dir', dir], {
      env: { PATH: process.env.PATH, GATEHOUSE_MAIL_SMTP_URL: 'smtp://mail.example.test:587', GATEHOUSE_MAIL_SMTP_PASSWORD: 'smtp-pw-0xdeadbeef' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /mail\.smtp_password = "<redacted>"/);
    assert.match(r.stdout, /mail\.smtp_url = "smtp:\/\/mail\.example\.test:587"/);
    assert.ok(!r.stdout.includes('smtp-pw-0xdeadbeef') && !r.stderr.includes('smtp-pw-0xdeadbeef'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
