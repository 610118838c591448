// Helpers for the federated sign-in tests (issue #7): a Gatehouse configured
// with providers (TOML through GATEHOUSE_CONFIG), and the flow driven over
// plain HTTP the way a browser would (cookies by hand, redirects not followed).
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { Server, cli, until } from './server.mjs';

// A free loopback port (listen on 0, close): the OP must know our callback URL
// before we start, and oidc-provider's client redirect_uris are fixed at start.
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// providers: { name: { issuer, client_id, client_secret, display_name, authorize_url, token_url, api_base } }
// oauth: extra [oauth] keys, e.g. { http_timeout_s: 2, auto_link_verified_email: true }
// faketimeFile: see Server (a clock the test can move).
export async function startGatehouse({ providers, oauth = {}, port, env = {}, faketimeFile }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-oauth-'));
  const lines = ['[oauth]'];
  for (const [k, v] of Object.entries(oauth)) lines.push(`${k} = ${JSON.stringify(v)}`);
  for (const [name, fields] of Object.entries(providers)) {
    lines.push(`[oauth.providers.${name}]`);
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) lines.push(`${k} = ${JSON.stringify(v)}`);
  }
  const config = join(dataDir, 'gatehouse.toml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const gh = new Server({ dataDir, listen: `127.0.0.1:${port ?? 0}`, env: { GATEHOUSE_CONFIG: config, ...env }, faketimeFile });
  gh.ownDir = true;
  await gh.start();
  return gh;
}

export const callbackUrl = (gh, provider) => `${gh.base}/v1/oauth/${provider}/callback`;

// A tiny cookie jar for Gatehouse: name -> value from Set-Cookie (Max-Age=0 deletes).
export class Jar {
  constructor() { this.c = new Map(); }
  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.c.delete(name);
      else this.c.set(name, value);
    }
    return res;
  }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
  get(name) { return this.c.get(name); }
}

// GET with our cookies, no redirect following.
export async function get(url, jar, headers = {}) {
  const res = await fetch(url, { headers: { cookie: jar.header(), ...headers }, redirect: 'manual' });
  jar.store(res);
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* HTML or empty */ }
  return { status: res.status, headers: res.headers, location: res.headers.get('location'), text, body };
}

// Starts a flow at Gatehouse: { res, providerUrl } (the 303 to the provider).
export async function start(gh, provider, jar, query = '') {
  const res = await get(`${gh.base}/v1/oauth/${provider}/start${query ? `?${query}` : ''}`, jar);
  return { res, providerUrl: res.location };
}

// A provider that answers /authorize with a redirect at once (rogue OP, GitHub fake):
// the URL of the callback it sends the browser to.
export async function providerRedirect(providerUrl) {
  const res = await fetch(providerUrl, { redirect: 'manual' });
  await res.text();
  if (res.status < 300 || res.status >= 400) throw new Error(`provider answered ${res.status} at ${providerUrl}`);
  return new URL(res.headers.get('location'), providerUrl).href;
}

// Users and audit rows, read with the CLI from the server's data dir.
export function users(gh) {
  const r = cli(['user', 'list', '--data-dir', gh.dataDir, '--limit', '1000']);
  if (r.code !== 0) throw new Error(r.err);
  return r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function audit(gh, args) {
  const r = cli(['audit', '--data-dir', gh.dataDir, ...args]);
  if (r.code !== 0) throw new Error(r.err);
  return r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function auditUntil(gh, args, want) {
  return until(() => audit(gh, args), want);
}
