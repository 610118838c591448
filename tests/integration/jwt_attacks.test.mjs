// Forged access tokens, built by the test, against GET /v1/me. The server runs
// with keys the test imported (`gatehouse keys import`), so the test can sign
// tokens that are cryptographically valid but wrong in one way each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createHmac, sign as nodeSign, createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, cli, signUp } from './lib/server.mjs';

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
let gh; let ed; let edKid; let rsa; let rsaKid; let ec; let ecKid; let user; let base;

function importKey(dir, alg, keyObject) {
  const f = join(dir, `${alg}.pem`);
  writeFileSync(f, keyObject.export({ type: 'pkcs8', format: 'pem' }));
  const r = cli(['keys', 'import', '--alg', alg, '--pem-file', f, '--data-dir', dir]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out).kid;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-attack-'));
  assert.equal(cli(['migrate', '--data-dir', dir]).code, 0);
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  ed = generateKeyPairSync('ed25519');
  // Imported in order: the last one (EdDSA) is active, the others stay published.
  rsaKid = importKey(dir, 'RS256', rsa.privateKey);
  ecKid = importKey(dir, 'ES256', ec.privateKey);
  edKid = importKey(dir, 'EdDSA', ed.privateKey);
  gh = await new Server({ dataDir: dir }).start();
  gh.ownDir = true;
  const { res } = await signUp(gh);
  user = res.body.user.id;
  base = { iss: gh.base, aud: 'gatehouse', sub: user, jti: 'j' + Date.now() };
});
after(async () => { assert.equal(await gh.stop(), 0); });

const now = () => Math.floor(Date.now() / 1000);
function claims(extra = {}) { return { ...base, iat: now(), nbf: now(), exp: now() + 300, ...extra }; }
function signEd(header, payload, { rawHeader, rawPayload } = {}) {
  const input = `${rawHeader ?? b64(header)}.${rawPayload ?? b64(payload)}`;
  return `${input}.${nodeSign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`;
}
const hdr = (extra = {}) => ({ alg: 'EdDSA', typ: 'at+jwt', kid: edKid, ...extra });
async function me(token) { return gh.json('GET', '/v1/me', undefined, { authorization: `Bearer ${token}` }); }
async function refused(token, code = 'invalid_token') {
  const r = await me(token);
  assert.equal(r.status, 401, r.text);
  assert.equal(r.body.code, code);
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
}

test('a correctly forged token of our own is accepted (the harness works)', async () => {
  const r = await me(signEd(hdr(), claims()));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.user.id, user);
});

test('alg=none is refused', async () => {
  await refused(`${b64({ alg: 'none', typ: 'at+jwt', kid: edKid })}.${b64(claims())}.`);
  await refused(`${b64({ alg: 'none', typ: 'at+jwt', kid: edKid })}.${b64(claims())}`);
});

test('HS256 signed with our RSA public key as the secret (key confusion) is refused', async () => {
  const pub = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  const jwk = JSON.stringify(rsa.publicKey.export({ format: 'jwk' }));
  for (const secret of [pub, jwk]) {
    const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: rsaKid })}.${b64(claims())}`;
    await refused(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`);
  }
});

test('header alg differing from the key pinned alg is refused', async () => {
  await refused(signEd(hdr({ alg: 'ES256' }), claims()));
  await refused(signEd(hdr({ kid: rsaKid }), claims()));  // Ed25519 signature presented for the RSA key
});

test('unknown kid, missing kid, and keys embedded in the header are refused', async () => {
  const attacker = generateKeyPairSync('ed25519');
  const forge = (h) => { const input = `${b64(h)}.${b64(claims())}`; return `${input}.${nodeSign(null, Buffer.from(input), attacker.privateKey).toString('base64url')}`; };
  await refused(forge({ alg: 'EdDSA', typ: 'at+jwt', kid: 'evil' }));
  await refused(forge({ alg: 'EdDSA', typ: 'at+jwt', kid: edKid, jwk: attacker.publicKey.export({ format: 'jwk' }) }));
  await refused(signEd(hdr({ kid: undefined }), claims()));
  for (const extra of [{ jku: 'http://127.0.0.1:1/jwks' }, { x5u: 'http://127.0.0.1:1/x' }, { jwk: ed.publicKey.export({ format: 'jwk' }) }, { crit: ['exp'] }]) {
    await refused(signEd(hdr(extra), claims()));
  }
});

test('wrong typ, iss, aud are refused', async () => {
  await refused(signEd(hdr({ typ: 'JWT' }), claims()));
  await refused(signEd(hdr({ typ: undefined }), claims()));
  await refused(signEd(hdr(), claims({ iss: 'http://evil.test' })));
  await refused(signEd(hdr(), claims({ aud: 'someone-else' })));
  await refused(signEd(hdr(), claims({ aud: ['a', 'b'] })));
  assert.equal((await me(signEd(hdr(), claims({ aud: ['x', 'gatehouse'] })))).status, 200, 'aud array containing us is fine');
});

test('expired, not yet valid and issued-in-the-future tokens are refused', async () => {
  await refused(signEd(hdr(), claims({ exp: now() - 120, iat: now() - 1000, nbf: now() - 1000 })), 'token_expired');
  await refused(signEd(hdr(), claims({ nbf: now() + 600 })));
  await refused(signEd(hdr(), claims({ iat: now() + 600 })));
  await refused(signEd(hdr(), claims({ exp: undefined })));
  await refused(signEd(hdr(), claims({ exp: String(now() + 300) })));
});

test('non-canonical encodings, duplicate members and oversized tokens are refused', async () => {
  const good = signEd(hdr(), claims());
  const [h, p, s] = good.split('.');
  await refused(`${h}=.${p}.${s}`);
  await refused(`${h}.${p}.${s}==`);
  await refused(`${h.replace(/-/g, '+')}.${p}.${s}`.includes('+') ? `${h.replace(/-/g, '+')}.${p}.${s}` : `${h}+.${p}.${s}`);
  // Duplicate "alg" in the header, and duplicate "sub" in the payload, each properly signed.
  await refused(signEd(null, null, { rawHeader: b64(`{"alg":"EdDSA","typ":"at+jwt","kid":"${edKid}","alg":"none"}`), rawPayload: b64(claims()) }));
  const dupSub = JSON.stringify(claims()).replace(/^\{/, `{"sub":"someone-else",`);
  await refused(signEd(null, null, { rawHeader: b64(hdr()), rawPayload: b64(dupSub) }));
  await refused(signEd(hdr(), claims({ pad: 'x'.repeat(10000) })));
  await refused(`${h}.${p}`);
  await refused(`${h}.${p}.${s}.${s}`);
});

test('flipping any signature bit is refused', async () => {
  const good = signEd(hdr(), claims());
  const [h, p, s] = good.split('.');
  const sig = Buffer.from(s, 'base64url');
  for (let i = 0; i < sig.length * 8; i += 37) {
    const flipped = Buffer.from(sig);
    flipped[i >> 3] ^= 1 << (i & 7);
    await refused(`${h}.${p}.${flipped.toString('base64url')}`);
  }
});

test('ECDSA: zero and out-of-range (r, s) are refused (CVE-2022-21449)', async () => {
  const ehdr = { alg: 'ES256', typ: 'at+jwt', kid: ecKid };
  const input = `${b64(ehdr)}.${b64(claims())}`;
  const valid = nodeSign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  assert.equal((await me(`${input}.${valid}`)).status, 200, 'a real ES256 token from the published key works');
  const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
  for (const sig of [Buffer.alloc(64), Buffer.concat([Buffer.alloc(32), Buffer.alloc(32, 1)]), Buffer.concat([n, n]), Buffer.alloc(65)]) {
    await refused(`${input}.${sig.toString('base64url')}`);
  }
});
