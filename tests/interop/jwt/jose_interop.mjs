// JWT interop between Gatehouse (C++) and the npm `jose` library, both ways.
//
//   node tests/interop/jwt/jose_interop.mjs path/to/jwt_interop_gen
//
// 1. C++ -> jose: jwt_interop_gen emits one token per algorithm (EdDSA, ES256,
//    RS256, HS256) and its JWKS; jose must verify each with createLocalJWKSet
//    (or the HS256 secret) pinned to that algorithm and typ at+jwt, and must
//    reject a tampered copy. jose must also import our PKCS#8 PEMs.
// 2. jose -> C++: jose signs tokens (its own keys, and our keys imported from
//    PEM) plus negative cases; jwt_interop_gen verifies them and checks each
//    outcome. Exits non-zero if anything disagrees.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SignJWT,
  UnsecuredJWT,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importPKCS8,
  jwtVerify,
} from 'jose';

const gen = process.argv[2];
if (!gen) {
  console.error('usage: jose_interop.mjs path/to/jwt_interop_gen');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'gh-jwt-interop-'));
let failures = 0;
const report = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
  if (!ok) failures += 1;
};

// Changes one character in the middle of the payload segment.
const tamper = (token) => {
  const [h, p, s] = token.split('.');
  const i = Math.floor(p.length / 2);
  const c = p[i] === 'A' ? 'B' : 'A';
  return [h, p.slice(0, i) + c + p.slice(i + 1), s].join('.');
};

try {
  // ---- 1. C++ signs, jose verifies ----------------------------------------
  const emitted = join(dir, 'emitted.json');
  execFileSync(gen, ['emit', emitted], { stdio: 'inherit' });
  const out = JSON.parse(readFileSync(emitted, 'utf8'));

  for (const jwk of out.jwks.keys) {
    const ok = jwk.use === 'sig' && typeof jwk.alg === 'string' && typeof jwk.kid === 'string' && !('d' in jwk);
    report(ok, `JWKS entry ${jwk.kid} is public, has alg/kid/use`);
  }
  report(!out.jwks.keys.some((k) => k.kty === 'oct'), 'JWKS has no symmetric key');

  const jwks = createLocalJWKSet(out.jwks);
  for (const t of out.tokens) {
    const key = t.alg === 'HS256' ? Buffer.from(t.secret, 'base64url') : jwks;
    const opts = { issuer: t.issuer, audience: t.audience, typ: 'at+jwt', algorithms: [t.alg] };
    try {
      const { payload, protectedHeader } = await jwtVerify(t.token, key, opts);
      const ok = payload.sub === t.sub && protectedHeader.kid === t.kid && protectedHeader.typ === 'at+jwt';
      report(ok, `jose verifies Gatehouse ${t.alg}`, ok ? '' : JSON.stringify({ payload, protectedHeader }));
    } catch (e) {
      report(false, `jose verifies Gatehouse ${t.alg}`, `${e.code ?? ''} ${e.message}`);
    }
    try {
      await jwtVerify(tamper(t.token), key, opts);
      report(false, `jose rejects tampered Gatehouse ${t.alg}`, 'accepted');
    } catch (e) {
      report(true, `jose rejects tampered Gatehouse ${t.alg}`, e.code);
    }
  }

  // ---- 2. jose signs, C++ verifies ----------------------------------------
  const issuer = out.issuer;
  const audience = out.audience;
  const keys = [];
  const tokens = [];
  const sign = (claims, header, key, exp = '5m') =>
    new SignJWT(claims)
      .setProtectedHeader(header)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(exp)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(key);

  for (const alg of ['EdDSA', 'ES256', 'RS256']) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 3072 });
    const kid = `jose-${alg}`;
    keys.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
    const sub = `user-${kid}`;
    const good = await sign({ sub }, { alg, typ: 'at+jwt', kid }, privateKey);
    tokens.push({ name: `${alg} signed by jose`, token: good, sub, expect: 'ok' });
    tokens.push({ name: `${alg} tampered`, token: tamper(good), expect: 'BadSignature' });
    tokens.push({
      name: `${alg} aud array`,
      token: await new SignJWT({ sub })
        .setProtectedHeader({ alg, typ: 'application/at+jwt', kid })
        .setIssuer(issuer)
        .setAudience(['https://other.test', audience])
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey),
      sub,
      expect: 'ok',
    });
    tokens.push({
      name: `${alg} typ JWT`,
      token: await sign({ sub }, { alg, typ: 'JWT', kid }, privateKey),
      expect: 'WrongType',
    });
    tokens.push({
      name: `${alg} expired`,
      token: await sign({ sub }, { alg, typ: 'at+jwt', kid }, privateKey, Math.floor(Date.now() / 1000) - 3600),
      expect: 'Expired',
    });
  }

  // Our own private keys, imported into jose from PKCS#8 PEM, sign for our kids.
  for (const t of out.tokens.filter((x) => x.private_pem)) {
    const key = await importPKCS8(t.private_pem, t.alg);
    const sub = `pem-${t.kid}`;
    tokens.push({
      name: `${t.alg} signed by jose with Gatehouse PKCS#8 key`,
      token: await sign({ sub }, { alg: t.alg, typ: 'at+jwt', kid: t.kid }, key),
      sub,
      expect: 'ok',
    });
  }
  keys.push(...out.jwks.keys);

  // HS256 with a secret jose generated.
  const secret = randomBytes(32);
  const hsKid = 'jose-HS256';
  const hsGood = await sign({ sub: 'user-hs' }, { alg: 'HS256', typ: 'at+jwt', kid: hsKid }, secret);
  tokens.push({ name: 'HS256 signed by jose', token: hsGood, sub: 'user-hs', expect: 'ok' });
  tokens.push({ name: 'HS256 tampered', token: tamper(hsGood), expect: 'BadSignature' });

  // Attacks built with jose: alg none, and HS256 keyed with an RS256 public JWK.
  const none = new UnsecuredJWT({ sub: 'admin' }).setIssuer(issuer).setAudience(audience).setIssuedAt().setExpirationTime('5m').encode();
  tokens.push({ name: 'alg none (empty signature)', token: none, expect: 'Malformed' });
  const rsJwk = keys.find((k) => k.kid === 'jose-RS256');
  const confused = await sign(
    { sub: 'admin' },
    { alg: 'HS256', typ: 'at+jwt', kid: 'jose-RS256' },
    new TextEncoder().encode(JSON.stringify(rsJwk)),
  );
  tokens.push({ name: 'HS256 keyed with the RS256 public JWK', token: confused, expect: 'AlgMismatch' });

  const verifyFile = join(dir, 'verify.json');
  writeFileSync(
    verifyFile,
    JSON.stringify({ issuer, audience, jwks: { keys }, hs256: { kid: hsKid, secret: secret.toString('base64url') }, tokens }),
  );
  try {
    const text = execFileSync(gen, ['verify', verifyFile], { encoding: 'utf8' });
    process.stdout.write(text.replace(/^/gm, '  C++ '));
    report(true, `Gatehouse verifies ${tokens.length} jose tokens as expected`);
  } catch (e) {
    process.stdout.write(String(e.stdout ?? '').replace(/^/gm, '  C++ '));
    process.stderr.write(String(e.stderr ?? ''));
    report(false, 'Gatehouse verifies jose tokens as expected', `exit ${e.status}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(failures === 0 ? 'jose interop: all passed' : `jose interop: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
