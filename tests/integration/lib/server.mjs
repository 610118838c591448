// Starts the real gatehouse binary on a free loopback port with a fresh data
// dir, and offers small HTTP helpers. Every test file gets its own server(s).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import net from 'node:net';

export const BIN = process.env.GATEHOUSE_BIN ?? resolve(import.meta.dirname, '../../../build/cli/gatehouse');

// Cheap but real Argon2id so the suite stays fast; production defaults are tested in unit tests.
export const FAST_HASH_ENV = {
  GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB: '8192',
  GATEHOUSE_PASSWORD_ARGON2_ITERATIONS: '1',
};

export class Server {
  // faketime: a libfaketime offset such as '+11m': the server runs with its clock shifted by it.
  // faketimeFile: a file holding such an offset, re-read by libfaketime on every clock read, so a
  // test moves the server's clock while it runs (write '+11m' to it; '+0' to come back).
  // listen: HOST:PORT (default a free port); a fixed one lets a peer register our URLs first.
  constructor({ env = {}, args = [], dataDir, faketime, faketimeFile, listen = '127.0.0.1:0' } = {}) {
    this.listen = listen;
    this.ownDir = !dataDir;
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'gh-it-'));
    this.env = env;
    this.faketime = faketime;
    this.faketimeFile = faketimeFile;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
  }

  async start() {
    const fake = {};
    if (this.faketime || this.faketimeFile) {
      // The preload must come after ASan's runtime in an ASan build; the order check is off for it.
      const asan = this.env.ASAN_OPTIONS ?? process.env.ASAN_OPTIONS;
      Object.assign(fake, {
        LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',  // Debian package libfaketime
        ASAN_OPTIONS: asan ? `${asan}:verify_asan_link_order=0` : 'verify_asan_link_order=0',
      });
      if (this.faketimeFile) {
        Object.assign(fake, { FAKETIME_TIMESTAMP_FILE: this.faketimeFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' });
      } else {
        fake.FAKETIME = this.faketime;
      }
    }
    this.proc = spawn(BIN, ['serve', '--dev', '--listen', this.listen, '--data-dir', this.dataDir, ...this.args], {
      // Rate limiting is off unless a test turns it on in its env: these suites sign in many
      // times from 127.0.0.1 (tests/integration/rate_limit.test.mjs enables it explicitly).
      env: { PATH: process.env.PATH, ...FAST_HASH_ENV, GATEHOUSE_RATE_LIMIT_ENABLED: 'false', ...this.env, ...fake },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = once(this.proc, 'exit');
    this.proc.on('exit', (code, signal) => {
      if (signal || code) console.error(`gatehouse exited: code=${code} signal=${signal}\n${this.stderr.slice(-4000)}\n${this.stdout.slice(-4000)}`);
    });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    const addr = await new Promise((resolveAddr, reject) => {
      const onData = (d) => {
        this.stdout += d;
        for (const line of this.stdout.split('\n')) {
          try {
            const j = JSON.parse(line);
            if (j.msg === 'listening') { resolveAddr(j.address); return; }
          } catch { /* partial or non-JSON line */ }
        }
      };
      this.proc.stdout.on('data', onData);
      this.proc.on('exit', (code) => reject(new Error(`gatehouse exited early (${code}): ${this.stderr}`)));
    });
    this.base = `http://${addr}`;
    this.addr = addr;
    return this;
  }

  // SIGTERM and wait; returns the exit code.
  async stop({ keepData = false } = {}) {
    if (!this.proc || this.proc.exitCode !== null) return this.proc?.exitCode;
    this.proc.kill('SIGTERM');
    const [code] = await this.exited;
    if (this.ownDir && !keepData) rmSync(this.dataDir, { recursive: true, force: true });
    return code;
  }

  url(path) { return this.base + path; }

  async json(method, path, body, headers = {}) {
    const res = await fetch(this.url(path), {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await res.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }
}

// Sends raw bytes over one TCP connection and resolves with everything the
// server sent back before closing (or `waitMs` of quiet, bounded).
export function rawRequest(addr, payload, { endAfterWrite = false, timeoutMs = 5000 } = {}) {
  const [host, port] = addr.split(':');
  return new Promise((resolveRaw, reject) => {
    const sock = net.connect(Number(port), host);
    let out = '';
    const timer = setTimeout(() => { sock.destroy(); resolveRaw({ data: out, closed: false }); }, timeoutMs);
    sock.on('data', (d) => { out += d.toString('latin1'); });
    sock.on('close', () => { clearTimeout(timer); resolveRaw({ data: out, closed: true }); });
    sock.on('error', (e) => { clearTimeout(timer); if (out) resolveRaw({ data: out, closed: true }); else reject(e); });
    sock.write(payload);
    if (endAfterWrite) sock.end();
  });
}

let counter = 0;
export function uniqueEmail(tag = 'user') {
  counter += 1;
  return `${tag}.${process.pid}.${counter}.${Date.now()}@example.test`;
}

// A password that passes the default policy (long, not common, not systematic).
export function goodPassword(seed = '') {
  return `violet-harbor-tangerine-${seed}${Math.random().toString(36).slice(2, 8)}`;
}

// Runs the gatehouse CLI synchronously (admin commands against a data dir).
import { spawnSync } from 'node:child_process';
export function cli(args, { input = '', env = {} } = {}) {
  const r = spawnSync(BIN, args, { input, env: { PATH: process.env.PATH, ...FAST_HASH_ENV, ...env }, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Registers a fresh user; returns { email, password, res } (res = the 201 response).
export async function signUp(server, { body = true } = {}) {
  const email = uniqueEmail('tok');
  const password = goodPassword();
  const res = await server.json('POST', '/v1/register', { email, password }, body ? { 'token-transport': 'body' } : {});
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  return { email, password, res };
}

// The step of a bounded poll (until() below), never a wait standing in for an event.
const pollStep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `probe` until `ok(value)` holds or the deadline passes; returns the last value. For
// outcomes the server produces after its answer (queued mail, audit rows written in the background).
export async function until(probe, ok, { timeoutMs = 5000, stepMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v) && Date.now() < end) {
    await pollStep(stepMs);
    v = await probe();
  }
  return v;
}
