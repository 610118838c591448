// A real OpenID provider on loopback for the federated sign-in tests (issue #7):
// npm `oidc-provider` (a certified implementation), in this process, with one
// confidential test client (PKCE S256 required) and test users.
//
// Login and consent are two tiny HTML forms of our own (not oidc-provider's
// dev interactions, which pull Google Fonts and change between versions), so
// a real browser can fill them (input[name=login], input[name=password],
// button[type=submit]) and a test can drive them over plain HTTP with
// authorizeOverHttp().
//
//   const op = await startOidcOp({ redirectUris: ['http://127.0.0.1:PORT/v1/oauth/oidc/callback'] });
//   ... op.issuer, op.clientId, op.clientSecret, op.users ...
//   await op.stop();
import http from 'node:http';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

export const DEFAULT_USER = Object.freeze({
  id: 'alice-0001', password: 'alice-password', email: 'alice@example.test', email_verified: true, name: 'Alice Example',
});

// Sign-in keys for the provider: one RS256 (2048-bit) and one ES256 key, each with a kid.
async function signingKeys(algs) {
  const keys = [];
  for (const alg of algs) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    keys.push({ ...jwk, kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`, alg, use: 'sig' });
  }
  return keys;
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

async function readForm(req) {
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// Options:
//   redirectUris   the client's exact redirect URIs (required)
//   clientId, clientSecret
//   idTokenAlg     'RS256' (default) or 'ES256': the client's id_token_signed_response_alg
//   authMethod     token_endpoint_auth_method, default 'client_secret_basic'
//   users          [{ id, password, email, email_verified, name }], default [DEFAULT_USER];
//                  the array is live: tests may push or edit users after start
//   extraClients   more oidc-provider client metadata objects (e.g. a second client)
export async function startOidcOp({
  redirectUris, clientId = 'gatehouse-test', clientSecret = `secret-${randomBytes(16).toString('hex')}`,
  idTokenAlg = 'RS256', authMethod = 'client_secret_basic', users = [{ ...DEFAULT_USER }], extraClients = [],
} = {}) {
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) throw new Error('startOidcOp: redirectUris required');
  // Listen first (port 0: no race for a free port), then build the provider for that issuer.
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const findUser = (id) => users.find((u) => u.id === id);
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris,
      grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: authMethod, id_token_signed_response_alg: idTokenAlg,
    }, ...extraClients],
    jwks: { keys: await signingKeys(['RS256', 'ES256']) },
    pkce: { required: () => true },
    responseTypes: ['code'],
    // Explicit lifetimes (seconds) keep oidc-provider from printing a notice for each default.
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Put the requested claims in the ID token itself (as Google does), not only at /me.
    conformIdTokenClaims: false,
    findAccount: async (ctx, id) => {
      const u = findUser(id);
      if (!u) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: u.email, email_verified: u.email_verified, name: u.name }),
      };
    },
  });
  provider.on('server_error', (ctx, err) => { op.serverErrors.push(err); });

  async function interaction(req, res) {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/);
    if (!m) { res.statusCode = 404; res.end(); return; }
    const details = await provider.interactionDetails(req, res);
    const { uid, prompt, params } = details;
    const action = m[2];
    const html = (status, body) => {
      res.statusCode = status;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.end(body);
    };
    if (req.method === 'GET' && !action) {
      if (prompt.name === 'login') {
        return html(200, page('Sign in', `<form method="post" action="/interaction/${esc(uid)}/login">`
          + '<input name="login" autocomplete="username"><input name="password" type="password">'
          + '<button type="submit">Sign in</button></form>'
          + `<form method="post" action="/interaction/${esc(uid)}/abort"><button name="abort">Cancel</button></form>`));
      }
      return html(200, page('Authorize', `<p>${esc(params.client_id)} asks for ${esc(params.scope)}</p>`
        + `<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Continue</button></form>`
        + `<form method="post" action="/interaction/${esc(uid)}/abort"><button name="abort">Deny</button></form>`));
    }
    if (req.method !== 'POST') { res.statusCode = 405; res.end(); return; }
    const form = await readForm(req);
    let result;
    if (action === 'login') {
      const u = findUser(form.get('login'));
      if (!u || u.password !== form.get('password')) {
        return html(401, page('Sign in', '<p role="alert">Wrong login or password</p>'
          + `<form method="post" action="/interaction/${esc(uid)}/login"><input name="login"><input name="password" type="password">`
          + '<button type="submit">Sign in</button></form>'));
      }
      result = { login: { accountId: u.id } };
    } else if (action === 'confirm') {
      const accountId = details.session?.accountId;
      const grant = details.grantId ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId: params.client_id });
      const d = prompt.details ?? {};
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    } else {
      result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((err) => {
        op.serverErrors.push(err);
        if (!res.headersSent) { res.statusCode = 400; res.end(page('Error', err.message)); }
      });
      return;
    }
    callback(req, res);
  });

  const op = {
    issuer, port, provider, clientId, clientSecret, redirectUris, users, serverErrors: [],
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return op;
}

// A minimal cookie jar for driving the provider over HTTP: name -> value,
// sent on every request to the provider (oidc-provider tells its cookies
// apart by name, so path scoping does not matter here).
export class CookieJar {
  constructor() { this.cookies = new Map(); }
  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))
        || attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (expired || value === '') this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

// Drives an authorization request through login and consent over plain HTTP,
// following redirects (at most `maxHops`) until one leaves for a URL that
// starts with `redirectUri`, and returns what the provider sent there:
//   { url, code, state, iss, error, error_description, params }
// `consent: false` presses Deny on the consent page; a wrong password makes
// it throw with the provider's 401 page. `jar` keeps the provider session
// between calls (a second authorization then skips the login form).
export async function authorizeOverHttp(authorizeUrl, {
  redirectUri, login = DEFAULT_USER.id, password = DEFAULT_USER.password, consent = true,
  jar = new CookieJar(), maxHops = 12,
} = {}) {
  if (!redirectUri) throw new Error('authorizeOverHttp: redirectUri required');
  let url = authorizeUrl;
  let method = 'GET';
  let body;
  for (let hop = 0; hop < maxHops; hop += 1) {
    if (url.startsWith(redirectUri)) {
      const params = Object.fromEntries(new URL(url).searchParams);
      return { url, params, code: params.code, state: params.state, iss: params.iss, error: params.error,
        error_description: params.error_description };
    }
    const headers = { cookie: jar.header() };
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(res);
    const text = await res.text();
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).href;
      method = 'GET';
      body = undefined;
      continue;
    }
    if (res.status !== 200) throw new Error(`authorizeOverHttp: ${res.status} at ${url}: ${text.slice(0, 500)}`);
    // One of our two interaction pages: post the form it shows.
    const login_ = text.match(/action="([^"]+\/login)"/);
    const confirm = text.match(/action="([^"]+\/confirm)"/);
    const abort = text.match(/action="([^"]+\/abort)"/);
    method = 'POST';
    if (login_) {
      url = new URL(login_[1], url).href;
      body = new URLSearchParams({ login, password }).toString();
    } else if (confirm) {
      url = new URL((consent ? confirm : abort)[1], url).href;
      body = '';
    } else {
      throw new Error(`authorizeOverHttp: unexpected page at ${url}: ${text.slice(0, 500)}`);
    }
  }
  throw new Error(`authorizeOverHttp: more than ${maxHops} hops`);
}

// A fresh PKCE pair (RFC 7636 §4.1-4.2): 32 random bytes -> 43-char verifier, S256 challenge.
export function newPkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}
