// Times Gatehouse's federated-sign-in callback (issue #7) against the local
// oidc-provider: state check + code exchange + ID-token validation (cached
// JWKS) + user upsert + new session, measured from the browser's GET of the
// callback to Gatehouse's 303. The provider-side steps (login, consent) are
// driven over HTTP outside the timed part. Prints one JSON line.
//   node bench/oauth_callback.mjs N
import { startOidcOp, authorizeOverHttp, CookieJar } from '../tests/integration/lib/oidc_op.mjs';
import { freePort, startGatehouse, Jar, get, start } from '../tests/integration/lib/oauth.mjs';

const N = Number(process.argv[2] ?? 200);
const port = await freePort();
const cb = `http://127.0.0.1:${port}/v1/oauth/corp/callback`;
const op = await startOidcOp({ redirectUris: [cb] });
const gh = await startGatehouse({ port, providers: { corp: { issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret } } });
const opJar = new CookieJar();  // the provider session: login once, as a returning person would
const times = [];
let cold = 0;
try {
  for (let i = 0; i <= N; i += 1) {
    const jar = new Jar();
    const { providerUrl } = await start(gh, 'corp', jar);
    const back = await authorizeOverHttp(providerUrl, { redirectUri: cb, jar: opJar });
    const t0 = process.hrtime.bigint();
    const res = await get(back.url, jar);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status !== 303 || res.location !== '/account') throw new Error(`callback ${res.status}: ${res.text}`);
    if (i === 0) cold = ms; else times.push(ms);  // the first one also fetches discovery + JWKS
  }
} finally {
  await gh.stop();
  await op.stop();
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
console.log(JSON.stringify({ n: times.length, cold_ms: +cold.toFixed(2), p50_ms: +q(0.5).toFixed(2), p90_ms: +q(0.9).toFixed(2), p99_ms: +q(0.99).toFixed(2), max_ms: +times[times.length - 1].toFixed(2) }));
