// A GitHub-shaped OAuth 2.0 server (no OpenID Connect) for the non-OIDC path
// of issue #7. One loopback host serves both github.com's OAuth endpoints and
// api.github.com's REST endpoints:
//   GET  /login/oauth/authorize      auto-approves: 302 to redirect_uri?code&state
//   POST /login/oauth/access_token   JSON if Accept: application/json, else form-encoded
//                                    (as GitHub); errors are 200 {"error":...} (as GitHub)
//   GET  /user, GET /user/emails     with Authorization: Bearer|token <access token>
// PKCE S256 is verified when the authorization carried a code_challenge, and
// required unless requirePkce is false.
//
//   const gh = await startGithubFake({ redirectUris: [cb] });
//   gh.user.id = 42; gh.emails = [...]; gh.misbehave({ authorize: 'access_denied' });
//   await gh.stop();
import http from 'node:http';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';

export const DEFAULT_GITHUB_USER = Object.freeze({ id: 583231, login: 'octocat', name: 'The Octocat', email: null });
export const DEFAULT_GITHUB_EMAILS = Object.freeze([
  { email: 'octocat@github.example.test', primary: true, verified: true, visibility: 'public' },
  { email: 'old@example.test', primary: false, verified: false, visibility: null },
]);

async function readBody(req) {
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) body += chunk;
  return body;
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

// Behaviours (gh.behavior; misbehave() merges, reset() clears):
//   authorize: 'access_denied'
//   token:     'bad_verification_code' | '500' | 'hang'
//   user:      '401' | '500'   (for /user; emails: same values for /user/emails)
export async function startGithubFake({
  clientId = 'gh-client-id', clientSecret = `gh-secret-${randomBytes(16).toString('hex')}`, redirectUris = [],
  user = { ...DEFAULT_GITHUB_USER }, emails = DEFAULT_GITHUB_EMAILS.map((e) => ({ ...e })), requirePkce = true,
} = {}) {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  const codes = new Map();   // code -> { challenge, redirect_uri, used }
  const tokens = new Set();
  const hanging = new Set();

  const gh = {
    base, port, clientId, clientSecret, redirectUris, user, emails, requirePkce,
    authorizeUrl: `${base}/login/oauth/authorize`,
    tokenUrl: `${base}/login/oauth/access_token`,
    apiBase: base,
    behavior: {}, lastAuthorize: null, lastTokenRequest: null, requests: [],
    misbehave(b) { Object.assign(this.behavior, b); return this; },
    reset() { this.behavior = {}; return this; },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };

  function bearer(req) {
    const m = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '');
    return m && tokens.has(m[1]);
  }

  async function handle(req, res) {
    const url = new URL(req.url, base);
    const b = gh.behavior;
    gh.requests.push({ method: req.method, path: url.pathname });
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const p = Object.fromEntries(url.searchParams);
      gh.lastAuthorize = p;
      // GitHub shows an error page (no redirect) for an unknown client or redirect_uri.
      if (p.client_id !== clientId || !redirectUris.includes(p.redirect_uri)) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return res.end('The redirect_uri is not associated with this application.');
      }
      const back = new URL(p.redirect_uri);
      if (b.authorize === 'access_denied') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user has denied your application access.');
      } else if (gh.requirePkce && (!p.code_challenge || p.code_challenge_method !== 'S256')) {
        back.searchParams.set('error', 'invalid_request');
        back.searchParams.set('error_description', 'PKCE S256 is required');
      } else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, { challenge: p.code_challenge, redirect_uri: p.redirect_uri, used: false });
        back.searchParams.set('code', code);
      }
      if (p.state !== undefined) back.searchParams.set('state', p.state);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const raw = await readBody(req);
      const form = (req.headers['content-type'] ?? '').includes('application/json')
        ? new URLSearchParams(JSON.parse(raw || '{}')) : new URLSearchParams(raw);
      let id = form.get('client_id');
      let secret = form.get('client_secret');
      if (req.headers.authorization?.startsWith('Basic ')) {
        [id, secret] = Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':');
      }
      gh.lastTokenRequest = { form: Object.fromEntries(form), headers: req.headers };
      if (b.token === 'hang') { hanging.add(res); res.on('close', () => hanging.delete(res)); return undefined; }
      if (b.token === '500') { res.writeHead(500); return res.end('Internal Server Error'); }
      const wantsJson = (req.headers.accept ?? '').includes('application/json');
      const reply = (body) => {
        if (wantsJson) return json(res, 200, body);
        res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
        return res.end(new URLSearchParams(body).toString());
      };
      if (id !== clientId || secret !== clientSecret) {
        return reply({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
      }
      const grant = codes.get(form.get('code'));
      const verifier = form.get('code_verifier');
      const pkceOk = grant && (grant.challenge
        ? verifier && createHash('sha256').update(verifier).digest('base64url') === grant.challenge
        : !gh.requirePkce);
      if (b.token === 'bad_verification_code' || !grant || grant.used || !pkceOk
          || (form.has('redirect_uri') && form.get('redirect_uri') !== grant.redirect_uri)) {
        return reply({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      }
      grant.used = true;
      const token = `gho_${randomBytes(18).toString('base64url')}`;
      tokens.add(token);
      return reply({ access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    if (req.method === 'GET' && (url.pathname === '/user' || url.pathname === '/user/emails')) {
      const which = url.pathname === '/user' ? b.user : b.emails;
      if (which === '500') return json(res, 500, { message: 'Server Error' });
      if (which === '401' || !bearer(req)) {
        return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      }
      return json(res, 200, url.pathname === '/user' ? gh.user : gh.emails);
    }
    return json(res, 404, { message: 'Not Found' });
  }

  server.on('request', (req, res) => {
    handle(req, res).catch((err) => { if (!res.headersSent) json(res, 500, { message: String(err) }); });
  });
  return gh;
}
