// A headless relying party for op.mjs: authorization code with PKCE, login
// and consent through the redirects alone, token exchange, the ID token checked
// with jose, userinfo, refresh and a code replay. Used by check.mjs; the
// issuer and client come from OP_ISSUER, OP_CLIENT_ID, OP_CLIENT_SECRET and
// OP_REDIRECT_URI.
import { createHash, randomBytes } from "node:crypto";
import assert from "node:assert/strict";

import { createRemoteJWKSet, jwtVerify } from "jose";

const issuer = process.env.OP_ISSUER || "http://127.0.0.1:9400";
const clientId = process.env.OP_CLIENT_ID || "gatehouse-test";
const clientSecret = process.env.OP_CLIENT_SECRET || "gatehouse-test-secret";
const redirectUri = process.env.OP_REDIRECT_URI || "http://localhost:3000/api/auth/callback/local-oidc";
const b64u = (b) => Buffer.from(b).toString("base64url");

/** A cookie jar keyed by name only (enough for one OP origin). */
export class Jar {
  m = new Map();
  store(res) {
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (!value || expired) this.m.delete(name);
      else this.m.set(name, value);
    }
  }
  header() {
    return [...this.m].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

/** Follows redirects with the jar until the Location leaves the OP (i.e. hits redirect_uri). */
export async function driveAuthorize(authUrl, jar, stopAt, trace = []) {
  let url = authUrl;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
    jar.store(res);
    const loc = res.headers.get("location");
    trace.push(`${res.status} ${new URL(url).pathname} -> ${loc ?? "(body)"}`);
    if (!loc) throw new Error(`OP stopped at ${url} with ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const next = new URL(loc, url).href;
    if (next.startsWith(stopAt)) return new URL(next);
    url = next;
  }
  throw new Error("too many redirects");
}

export async function run({ login, scope = "openid email profile", wrongVerifier = false, deny = false }) {
  const t0 = Date.now();
  const disc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const verifier = b64u(randomBytes(96)); // 128 chars, like Better Auth
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const state = b64u(randomBytes(24));
  const nonce = b64u(randomBytes(24));
  if (deny) await fetch(`${issuer}/__test/next`, { method: "POST", body: JSON.stringify({ deny: true }) });
  const auth = new URL(disc.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope, state, nonce,
    code_challenge: challenge, code_challenge_method: "S256", login_hint: login,
  })) auth.searchParams.set(k, v);
  const jar = new Jar();
  const trace = [];
  const cb = await driveAuthorize(auth.href, jar, redirectUri, trace);
  const q = Object.fromEntries(cb.searchParams);
  const out = { trace, callbackQuery: q, cookiesAtOP: [...jar.m.keys()] };
  assert.equal(q.state, state);
  assert.equal(q.iss, disc.issuer, "RFC 9207 iss");
  if (q.error) return out;

  const tokRes = await fetch(disc.token_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: "Basic " + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64"),
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code: q.code, redirect_uri: redirectUri, code_verifier: wrongVerifier ? b64u(randomBytes(96)) : verifier }),
  });
  const tokens = await tokRes.json();
  out.tokenStatus = tokRes.status;
  if (!tokRes.ok) return { ...out, tokens };
  out.tokenKeys = Object.keys(tokens).sort();
  out.expires_in = tokens.expires_in;
  const { payload, protectedHeader } = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(disc.jwks_uri)), {
    issuer: disc.issuer, audience: clientId, algorithms: ["RS256"],
  });
  assert.equal(payload.nonce, nonce);
  out.idTokenHeader = protectedHeader;
  out.idToken = payload;
  const ui = await fetch(disc.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  out.userinfo = await ui.json();
  if (tokens.refresh_token) {
    const r = await fetch(disc.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic " + Buffer.from(`${clientId}:${clientSecret}`).toString("base64") },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }),
    });
    out.refresh = `${r.status} keys=${Object.keys(await r.json()).sort().join(",")}`;
  }
  // replay of the code must fail (and, per RFC 6749 4.1.2, revokes the tokens issued from it)
  const replay = await fetch(disc.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: q.code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId, client_secret: clientSecret }),
  });
  out.codeReplay = `${replay.status} ${JSON.stringify(await replay.json())}`;
  out.ms = Date.now() - t0;
  return out;
}
