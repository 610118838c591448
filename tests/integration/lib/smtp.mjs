// A real SMTP server on loopback for the mail tests: Debian's aiosmtpd with
// its Mailbox handler (one file per received mail in maildir/new/), and an
// .eml parser (Python's email package: RFC 2047, quoted-printable, charsets).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import net from 'node:net';
import assert from 'node:assert/strict';

export const PYTHON = '/usr/bin/python3';  // Debian's python3-aiosmtpd imports only here (RECIPES.md)

export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export class Sink {
  constructor(port, dir) { this.port = port; this.maildir = join(dir, 'maildir'); this.log = ''; }
  async start() {
    this.proc = spawn(PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${this.port}`, '-c', 'aiosmtpd.handlers.Mailbox', this.maildir],
      { env: { PATH: process.env.PATH, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = once(this.proc, 'exit');
    for (let i = 0; i < 200; i += 1) {
      if (await canConnect(this.port)) return this;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`aiosmtpd did not start: ${this.log}`);
  }
  async stop() {
    if (this.proc.exitCode === null) { this.proc.kill('SIGTERM'); await this.exited; }
  }
  files() {
    const dir = join(this.maildir, 'new');
    return existsSync(dir) ? readdirSync(dir).sort().map((f) => join(dir, f)) : [];
  }
}

const PARSE = `
import email, json, sys
from email import policy
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=policy.default)
text = m.get_body(('plain',))
html = m.get_body(('html',))
print(json.dumps({
  'from': str(m['From']), 'to': str(m['To']), 'subject': str(m['Subject']), 'date': str(m['Date']),
  'message_id': str(m['Message-ID']), 'content_type': m.get_content_type(),
  'x_mailfrom': m.get('X-MailFrom'), 'x_rcptto': m.get('X-RcptTo'),
  'text': text.get_content() if text else None, 'html': html.get_content() if html else None,
  'defects': [type(d).__name__ for p in m.walk() for d in p.defects],
}))
`;

export function parseEml(path) {
  const r = spawnSync(PYTHON, ['-c', PARSE, path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}
