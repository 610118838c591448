// A minimal fake OpenID provider (node:http + jose) that misbehaves on
// request, for the negative tests of Gatehouse's relying-party code (issue #7,
// SECURITY-CHECKLIST.md §3.1). It is well-behaved until told otherwise:
//
//   const rogue = await startRogueOp({ clientId, clientSecret, redirectUris });
//   rogue.misbehave({ idToken: 'wrong-aud' });   // or token: 'hang', iss: 'mix-up', ...
//   ... rogue.requests (what Gatehouse sent), rogue.lastAuthorize, rogue.lastTokenRequest ...
//   await rogue.stop();
//
// Behaviours (rogue.behavior; misbehave() merges, reset() clears):
//   idToken:  'other-key'  signed by a key not in the JWKS (same kid as the real one)
//             'unknown-kid' signed by a key whose kid is not in the JWKS
//             'wrong-aud' | 'wrong-iss' | 'iss-trailing-slash' | 'expired' | 'iat-future' | 'too-old'
//             'wrong-nonce' | 'no-nonce' | 'multi-aud-no-azp' | 'untrusted-aud' | 'wrong-azp'
//             'alg-none' | 'hs256-public-key' | 'typ-at+jwt' | 'email-unverified' | 'email-verified-string'
//   claims:   object merged into the ID token claims last (anything else)
//   idTokenAlg: 'RS256' (default) | 'ES256' | 'EdDSA'
//   token:    'hang' (never answers; stop() cuts it) | '500' | 'invalid_grant' | 'no-id-token'
//             | 'token-type-mac' | 'not-json'
//   iss:      'mix-up' (callback iss of another issuer) | 'omit' (no iss though advertised)
//   authorize: 'access_denied' (error redirect) | 'no-state'
//   discovery: object merged into the metadata (e.g. { issuer: 'https://elsewhere' }),
//              or 'hang' / '500'
//   jwks:     'hang' | '500' | 'empty'
//   userinfoSub: a sub for /userinfo other than the ID token's
// The subject, email and name of the signed-in person come from rogue.user.
import http from 'node:http';
import { once } from 'node:events';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';

async function keyPair(alg, kid) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const b64 = (s) => Buffer.from(s).toString('base64url');

async function readBody(req) {
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) body += chunk;
  return body;
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'cache-control': 'no-store', ...headers,
  });
  res.end(text);
}

// Client authentication as RFC 6749 §2.3.1: HTTP Basic (form-urlencoded
// id:secret) or client_id/client_secret in the body. Returns the method used.
function clientAuth(req, form, clientId, clientSecret) {
  const h = req.headers.authorization;
  if (h?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(h.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
    return id === clientId && secret === clientSecret ? 'client_secret_basic' : null;
  }
  if (form.get('client_id') === clientId && form.get('client_secret') === clientSecret) return 'client_secret_post';
  return null;
}

export async function startRogueOp({
  clientId = 'gatehouse-test', clientSecret = `secret-${randomBytes(16).toString('hex')}`, redirectUris = [],
  user = { sub: 'rogue-user-1', email: 'victim@example.test', email_verified: true, name: 'Rogue User' },
} = {}) {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const keys = {
    RS256: await keyPair('RS256', 'rogue-rs'),
    ES256: await keyPair('ES256', 'rogue-es'),
    EdDSA: await keyPair('EdDSA', 'rogue-ed'),
    other: await keyPair('RS256', 'rogue-rs'),      // same kid as RS256, never published
    unknown: await keyPair('RS256', 'not-published'),
  };
  const codes = new Map();  // code -> { nonce, challenge, redirect_uri, used }
  const hanging = new Set();

  const rogue = {
    issuer, port, clientId, clientSecret, redirectUris, user, keys,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    behavior: {}, requests: [], lastAuthorize: null, lastTokenRequest: null,
    misbehave(b) { Object.assign(this.behavior, b); return this; },
    reset() { this.behavior = {}; return this; },
    metadata() {
      return {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        authorization_response_iss_parameter_supported: true,
      };
    },
    // A signed ID token as this provider would issue it, then bent by `mode`
    // (one of the idToken behaviours above); exported for tests that craft tokens directly.
    async mintIdToken({ nonce, mode = this.behavior.idToken, alg = this.behavior.idTokenAlg ?? 'RS256', claims = {} } = {}) {
      const now = Math.floor(Date.now() / 1000);
      let c = { iss: issuer, sub: this.user.sub, aud: clientId, iat: now, exp: now + 300, nonce,
        email: this.user.email, email_verified: this.user.email_verified, name: this.user.name };
      let key = keys[alg];
      let typ;
      switch (mode) {
        case undefined: break;
        case 'other-key': key = keys.other; break;
        case 'unknown-kid': key = keys.unknown; break;
        case 'wrong-aud': c.aud = 'some-other-client'; break;
        case 'wrong-iss': c.iss = 'https://evil.example.test'; break;
        case 'iss-trailing-slash': c.iss = `${issuer}/`; break;
        case 'expired': c.iat = now - 600; c.exp = now - 300; break;
        case 'iat-future': c.iat = now + 3600; c.exp = now + 7200; break;
        case 'too-old': c.iat = now - 3600; c.exp = now + 3600; break;
        case 'wrong-nonce': c.nonce = 'not-the-nonce-you-sent'; break;
        case 'no-nonce': delete c.nonce; break;
        case 'multi-aud-no-azp': c.aud = [clientId, 'another-client']; break;
        case 'untrusted-aud': c.aud = [clientId, 'untrusted']; c.azp = clientId; break;
        case 'wrong-azp': c.azp = 'another-client'; break;
        case 'typ-at+jwt': typ = 'at+jwt'; break;
        case 'email-unverified': c.email_verified = false; break;
        case 'email-verified-string': c.email_verified = 'true'; break;
        case 'alg-none':
          c = { ...c, ...claims, ...this.behavior.claims };
          return `${b64(JSON.stringify({ alg: 'none', kid: keys.RS256.kid }))}.${b64(JSON.stringify(c))}.`;
        case 'hs256-public-key': {
          // HMAC keyed with the published RSA public JWK: only a verifier that
          // lets the token choose its algorithm would accept this.
          c = { ...c, ...claims, ...this.behavior.claims };
          const input = `${b64(JSON.stringify({ alg: 'HS256', kid: keys.RS256.kid }))}.${b64(JSON.stringify(c))}`;
          const mac = createHmac('sha256', JSON.stringify(keys.RS256.publicJwk)).update(input).digest('base64url');
          return `${input}.${mac}`;
        }
        default: throw new Error(`rogue_op: unknown idToken behaviour ${mode}`);
      }
      c = { ...c, ...claims, ...this.behavior.claims };
      return new SignJWT(c).setProtectedHeader({ alg: key.alg, kid: key.kid, ...(typ ? { typ } : {}) }).sign(key.privateKey);
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };

  const hang = (res) => { hanging.add(res); res.on('close', () => hanging.delete(res)); };

  async function handle(req, res) {
    const url = new URL(req.url, issuer);
    const b = rogue.behavior;
    rogue.requests.push({ method: req.method, path: url.pathname });
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      if (b.discovery === 'hang') return hang(res);
      if (b.discovery === '500') return send(res, 500, 'boom');
      return send(res, 200, { ...rogue.metadata(), ...(typeof b.discovery === 'object' ? b.discovery : {}) });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') {
      if (b.jwks === 'hang') return hang(res);
      if (b.jwks === '500') return send(res, 500, 'boom');
      const published = b.jwks === 'empty' ? [] : [keys.RS256, keys.ES256, keys.EdDSA].map((k) => k.publicJwk);
      return send(res, 200, { keys: published });
    }
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const p = Object.fromEntries(url.searchParams);
      rogue.lastAuthorize = p;
      if (p.client_id !== clientId || !redirectUris.includes(p.redirect_uri)) {
        return send(res, 400, 'unknown client or redirect_uri');  // never redirect (RFC 6749 §4.1.2.1)
      }
      const back = new URL(p.redirect_uri);
      if (b.iss === 'mix-up') back.searchParams.set('iss', 'https://honest-idp.example.test');
      else if (b.iss !== 'omit') back.searchParams.set('iss', issuer);
      if (b.authorize !== 'no-state' && p.state !== undefined) back.searchParams.set('state', p.state);
      if (b.authorize === 'access_denied') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user said no');
      } else {
        if (p.response_type !== 'code' || p.code_challenge_method !== 'S256' || !p.code_challenge) {
          back.searchParams.set('error', 'invalid_request');
        } else {
          const code = randomBytes(24).toString('base64url');
          codes.set(code, { nonce: p.nonce, challenge: p.code_challenge, redirect_uri: p.redirect_uri, used: false });
          back.searchParams.set('code', code);
        }
      }
      res.writeHead(303, { location: back.href, 'cache-control': 'no-store' });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      const form = new URLSearchParams(await readBody(req));
      const auth = clientAuth(req, form, clientId, clientSecret);
      rogue.lastTokenRequest = { form: Object.fromEntries(form), authMethod: auth, headers: req.headers };
      if (b.token === 'hang') return hang(res);
      if (b.token === '500') return send(res, 500, 'Internal Server Error');
      if (b.token === 'not-json') return send(res, 200, 'access_token=x&token_type=bearer');
      if (!auth) return send(res, 401, { error: 'invalid_client' });
      const grant = codes.get(form.get('code'));
      const verifier = form.get('code_verifier') ?? '';
      const pkceOk = grant && createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
      if (b.token === 'invalid_grant' || form.get('grant_type') !== 'authorization_code' || !grant || grant.used
          || grant.redirect_uri !== form.get('redirect_uri') || !pkceOk) {
        return send(res, 400, { error: 'invalid_grant', error_description: 'grant request is invalid' });
      }
      grant.used = true;
      const body = {
        access_token: randomBytes(24).toString('base64url'),
        token_type: b.token === 'token-type-mac' ? 'mac' : 'Bearer',
        expires_in: 300,
        scope: 'openid email profile',
      };
      if (b.token !== 'no-id-token') body.id_token = await rogue.mintIdToken({ nonce: grant.nonce });
      return send(res, 200, body);
    }
    if (req.method === 'GET' && url.pathname === '/userinfo') {
      if (!req.headers.authorization?.startsWith('Bearer ')) return send(res, 401, { error: 'invalid_token' });
      return send(res, 200, { sub: b.userinfoSub ?? rogue.user.sub, email: rogue.user.email,
        email_verified: rogue.user.email_verified, name: rogue.user.name });
    }
    return send(res, 404, { error: 'not_found' });
  }

  server.on('request', (req, res) => {
    handle(req, res).catch((err) => { if (!res.headersSent) send(res, 500, String(err)); });
  });
  return rogue;
}
