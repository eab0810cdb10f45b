// Better Auth's own `jwtClient` against Gatehouse, and `jose` (the library
// most JavaScript resource servers use) verifying the issued tokens offline
// against the published `/jwks`, both from `GET /token` and from the
// `set-auth-jwt` header of get-session.
//
// Run through tests/node/run.sh (its server has the jwt plugin).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

import { CookieJar } from "./cookie-jar.mjs";

const BASE = process.env.GATEHOUSE_URL;
if (!BASE) throw new Error("run this suite through tests/node/run.sh");
const ORIGIN = new URL(BASE).origin;
const API = `${BASE}/api/auth`;

function device() {
  const jar = new CookieJar();
  let lastJwtHeader = null;
  const customFetchImpl = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    headers.set("origin", ORIGIN);
    const res = await fetch(input, { ...init, headers });
    for (const sc of res.headers.getSetCookie()) jar.store(sc);
    if (res.headers.get("set-auth-jwt")) lastJwtHeader = res.headers.get("set-auth-jwt");
    return res;
  };
  const client = createAuthClient({ baseURL: BASE, plugins: [jwtClient()], fetchOptions: { customFetchImpl } });
  return { client, jar, jwtHeader: () => lastJwtHeader };
}

const ok = (r) => {
  assert.equal(r.error, null, JSON.stringify(r.error));
  return r.data;
};

test("jwtClient: tokens verify with jose against /jwks", async () => {
  const d = device();
  const email = `ba-jwt-${randomBytes(5).toString("hex")}@example.com`;
  const signedUp = ok(await d.client.signUp.email({ name: "Jwt User", email, password: "jwt-user-password" }));

  const { token } = ok(await d.client.token());
  assert.equal(decodeProtectedHeader(token).alg, "EdDSA");

  // The client's own jwks() and a remote key set give the same keys.
  const jwks = ok(await d.client.jwks());
  assert.ok(jwks.keys.length >= 1);
  for (const key of jwks.keys) {
    assert.equal(key.kty, "OKP");
    assert.equal(key.crv, "Ed25519");
    assert.equal(key.d, undefined, "no private part");
  }
  const remote = createRemoteJWKSet(new URL(`${API}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(token, remote, { issuer: ORIGIN, audience: ORIGIN });
  assert.equal(protectedHeader.kid, jwks.keys[0].kid);
  assert.equal(payload.sub, signedUp.user.id);
  assert.equal(payload.email, email);
  assert.equal(payload.exp - payload.iat, 900);

  // get-session carries a token too, exposed to browsers.
  ok(await d.client.getSession());
  const fromHeader = d.jwtHeader();
  assert.ok(fromHeader, "set-auth-jwt on get-session");
  const verified = await jwtVerify(fromHeader, createLocalJWKSet(jwks), { issuer: ORIGIN, audience: ORIGIN });
  assert.equal(verified.payload.sub, signedUp.user.id);

  // A tampered token fails.
  const [h, p, s] = token.split(".");
  const forged = Buffer.from(JSON.stringify({ ...payload, sub: "someone-else" })).toString("base64url");
  await assert.rejects(jwtVerify(`${h}.${forged}.${s}`, remote, { issuer: ORIGIN, audience: ORIGIN }));

  // Signed out: no token.
  ok(await d.client.signOut());
  const after = await d.client.token();
  assert.equal(after.data, null);
  assert.equal(after.error.status, 401);
});
