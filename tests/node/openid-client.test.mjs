// Gatehouse as an OpenID provider for `openid-client` (v6, panva's certified
// relying-party library, on oauth4webapi), used exactly as an app would:
// discovery, the authorization code flow with PKCE and nonce (ID token
// signature checked against the published JWKS), UserInfo, refresh rotation
// and reuse, client credentials with a custom scope, introspection,
// revocation, prompt=none for a signed-out browser, the device flow,
// private_key_jwt client authentication, max_age and RP-initiated logout. The "browser" is
// plain HTTP: a cookie jar following the authorization URL and answering the
// consent page as the app's page would (POST /oauth2/consent).
//
// The shared server of tests/node/run.sh does not enable oauth-provider, so
// this suite starts its own (GATEHOUSE_BIN, its own configuration) on the
// database run.sh was given: PostgreSQL when GATEHOUSE_DB_URL is one, else a
// fresh SQLite file.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { get as httpGet } from "node:http";
import { test } from "node:test";

import * as client from "openid-client";
import { decodeProtectedHeader } from "jose";

import { browser, ok, startGatehouse } from "./harness.mjs";

const REDIRECT = "https://rp.example/cb";
const SCOPES = ["openid", "profile", "email", "offline_access", "read:reports"];

/** Gatehouse with jwt and oauth-provider (and the custom scope); stopped after `t`. */
function server(t) {
  const db = process.env.GATEHOUSE_DB_URL ?? "";
  return startGatehouse(t, {
    name: "openid-client",
    plugins: "jwt,oauth-provider",
    // A one-second polling interval keeps the device flow test short.
    toml: `[oauth_provider]\nscopes = ${JSON.stringify(SCOPES)}\ndevice_code_interval = 1\n`,
    env: /^postgres(ql)?:\/\//.test(db) ? { DATABASE_URL: db } : {},
  });
}

/**
 * openid-client's Configuration for a client, from the issuer's discovery
 * document. openid-client refuses plain http unless told otherwise:
 * `allowInsecureRequests` is only for this loopback test server (a real
 * deployment is https). `enableNonRepudiationChecks` makes it verify the ID
 * token's signature against the JWKS (over TLS it would otherwise trust the
 * token endpoint). Every request it makes is recorded in `seen`.
 */
async function discover(issuer, clientId, secret, clientAuth) {
  const seen = [];
  const recorder = (url, options) => {
    seen.push(`${options?.method ?? "GET"} ${new URL(url).pathname}`);
    return fetch(url, options);
  };
  const config = await client.discovery(new URL(issuer), clientId, secret, clientAuth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    [client.customFetch]: recorder,
  });
  return { config, seen };
}

/**
 * A browser navigation to `url`: a GET with the user's cookies, without the
 * `Sec-Fetch-Mode: cors` that Node's fetch always sends (Gatehouse answers
 * such callers with JSON instead of a redirect). Resolves with the redirect.
 */
function navigate(url, cookie) {
  return new Promise((resolve, reject) => {
    const headers = { accept: "text/html" };
    if (cookie) headers.cookie = cookie;
    httpGet(url, { headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, location: res.headers.location, body }));
    }).on("error", reject);
  });
}

/**
 * A browser at `url` (the authorization URL): follow the redirect with the
 * user's cookies; when sent to the consent page, accept there (what the
 * app's page does with its signed query: POST /oauth2/consent answers
 * `{redirect, url}`). Resolves with the URL the browser lands on at the
 * client and whether consent was asked.
 */
async function follow(url, jar, origin) {
  const cookie = jar?.header();
  const nav = await navigate(url, cookie);
  assert.equal(nav.status, 302, nav.body);
  let location = nav.location;
  let consented = false;
  const consentPage = `${origin}/consent?`;
  if (location.startsWith(consentPage)) {
    consented = true;
    const r = await fetch(`${origin}/api/auth/oauth2/consent`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, origin },
      body: JSON.stringify({ accept: true, oauth_query: location.slice(consentPage.length) }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const answer = JSON.parse(text);
    assert.equal(answer.redirect, true, text);
    location = answer.url;
  }
  assert.ok(location.startsWith(`${REDIRECT}?`), location);
  return { callback: new URL(location), consented };
}

const b64url = (buf) => Buffer.from(buf).toString("base64url");

test("openid-client: Gatehouse as an OpenID Connect provider", async (t) => {
  const { url: origin, env: serverEnv } = await server(t);
  const issuer = `${origin}/api/auth`;
  const tag = randomBytes(4).toString("hex");

  // A signed-in user (Better Auth's client, cookie jar) who owns the clients.
  const { client: auth, jar } = browser(issuer, []);
  const email = `rp-${tag}@example.com`;
  const user = ok(await auth.signUp.email({ name: "Relying Party User", email, password: "openid-client-pw" })).user;
  const createClient = async (meta) => ok(await auth.$fetch("/oauth2/create-client", { method: "POST", body: meta }));

  // A web app: confidential, client_secret_basic (RFC 7591's default method).
  const web = await createClient({
    client_name: "openid-client RP",
    redirect_uris: [REDIRECT],
    grant_types: ["authorization_code", "refresh_token"],
  });
  assert.equal(web.token_endpoint_auth_method, "client_secret_basic");
  assert.ok(web.client_secret);

  let rp; // { config, seen } for the web app
  let tokens; // its first token response

  await t.test("1. discovery", async () => {
    // ClientSecretBasic, the method the client registered: given a bare
    // secret, openid-client would use client_secret_post (section 7), which
    // Gatehouse refuses for a client_secret_basic client (invalid_client).
    rp = await discover(issuer, web.client_id, web.client_secret, client.ClientSecretBasic(web.client_secret));
    const meta = rp.config.serverMetadata();
    assert.equal(meta.issuer, issuer);
    assert.equal(meta.authorization_endpoint, `${issuer}/oauth2/authorize`);
    assert.equal(meta.token_endpoint, `${issuer}/oauth2/token`);
    assert.equal(meta.userinfo_endpoint, `${issuer}/oauth2/userinfo`);
    assert.equal(meta.jwks_uri, `${issuer}/jwks`);
    assert.ok(meta.scopes_supported.includes("read:reports"));
    assert.ok(meta.supportsPKCE(), "S256 advertised");
    assert.deepEqual(rp.seen, ["GET /api/auth/.well-known/openid-configuration"]);
  });

  await t.test("2. authorization code with PKCE and nonce; ID token verified; UserInfo", async () => {
    const { config, seen } = rp;
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const code_challenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
    const nonce = client.randomNonce();
    const state = client.randomState();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid profile email offline_access",
      code_challenge,
      code_challenge_method: "S256",
      nonce,
      state,
    });
    assert.equal(authorizationUrl.origin + authorizationUrl.pathname, `${issuer}/oauth2/authorize`);

    const { callback, consented } = await follow(authorizationUrl, jar, origin);
    assert.ok(consented, "the first authorization asks for consent");
    assert.equal(callback.searchParams.get("iss"), issuer, "RFC 9207 iss in the response");

    seen.length = 0;
    tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    assert.equal(tokens.token_type.toLowerCase(), "bearer");
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, "offline_access gives a refresh token");
    assert.equal(tokens.scope, "openid profile email offline_access");
    assert.ok(tokens.expiresIn() > 3500 && tokens.expiresIn() <= 3600, `expiresIn ${tokens.expiresIn()}`);

    const claims = tokens.claims();
    assert.equal(claims.sub, user.id);
    assert.equal(claims.nonce, nonce);
    assert.equal(claims.aud, web.client_id);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.email, email);
    assert.equal(claims.name, "Relying Party User");
    assert.equal(typeof claims.auth_time, "number");

    // openid-client fetched the JWKS to verify the ID token's signature.
    assert.deepEqual(seen, ["POST /api/auth/oauth2/token", "GET /api/auth/jwks"]);
    const header = decodeProtectedHeader(tokens.id_token);
    assert.equal(header.alg, "EdDSA");
    const cached = client.getJwksCache(config);
    assert.ok(cached?.jwks?.keys?.some((k) => k.kid === header.kid), "the signing key came from /jwks");
    // oauth4webapi does not check at_hash (optional in the code flow): check
    // it here, SHA-512 for EdDSA (Ed25519), the left half, base64url.
    const digest = createHash("sha512").update(tokens.access_token).digest();
    assert.equal(claims.at_hash, b64url(digest.subarray(0, digest.length / 2)));

    // The check is real: a fresh code flow whose ID token is altered in
    // transit (payload changed, signature kept) is refused by openid-client.
    const forged = await forgedIdTokenRefused(issuer, web, jar, origin);
    assert.ok(forged, "a forged ID token signature is refused");

    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    assert.equal(info.sub, user.id);
    assert.equal(info.email, email);
    assert.equal(info.email_verified, false);
    assert.equal(info.name, "Relying Party User");
    // Better Auth's split: the last word is the family name.
    assert.equal(info.given_name, "Relying Party");
    assert.equal(info.family_name, "User");
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, "someone-else"), (e) => {
      assert.equal(e.code, "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED", e.message);
      return true;
    });

    // The consent is remembered: a second authorization goes straight to the code.
    const again = await follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: "openid email",
        code_challenge,
        code_challenge_method: "S256",
        state,
      }),
      jar,
      origin,
    );
    assert.equal(again.consented, false);
    const second = await client.authorizationCodeGrant(config, again.callback, { pkceCodeVerifier, expectedState: state });
    assert.equal(second.claims().sub, user.id);
    assert.equal(second.refresh_token, undefined, "no offline_access, no refresh token");
  });

  await t.test("3. refresh rotates; the old refresh token is then invalid_grant", async () => {
    const { config } = rp;
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, "rotated");
    assert.equal(refreshed.claims()?.sub, user.id);
    const info = await client.fetchUserInfo(config, refreshed.access_token, user.id);
    assert.equal(info.email, email);

    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => {
      assert.ok(e instanceof client.ResponseBodyError, `${e.name}: ${e.message}`);
      assert.equal(e.error, "invalid_grant");
      assert.equal(e.status, 400);
      return true;
    });
    // Reuse revoked the whole family, the rotated token included.
    await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => {
      assert.equal(e.error, "invalid_grant");
      return true;
    });
  });

  await t.test("4. client credentials with a custom scope", async () => {
    const service = await createClient({
      client_name: "reports service",
      grant_types: ["client_credentials"],
      scope: "read:reports",
    });
    const { config } = await discover(
      issuer,
      service.client_id,
      service.client_secret,
      client.ClientSecretBasic(service.client_secret),
    );
    const m2m = await client.clientCredentialsGrant(config, { scope: "read:reports" });
    assert.ok(m2m.access_token);
    assert.equal(m2m.token_type.toLowerCase(), "bearer");
    assert.equal(m2m.scope, "read:reports");
    assert.equal(m2m.id_token, undefined);
    assert.equal(m2m.refresh_token, undefined);

    const seen = await client.tokenIntrospection(config, m2m.access_token);
    assert.equal(seen.active, true);
    assert.equal(seen.client_id, service.client_id);
    assert.equal(seen.sub, service.client_id, "a machine token stands for its client");
    assert.equal(seen.scope, "read:reports");

    await assert.rejects(client.clientCredentialsGrant(config, { scope: "openid" }), (e) => {
      assert.equal(e.error, "invalid_scope");
      return true;
    });
  });

  await t.test("5. introspection and revocation", async () => {
    const { config } = rp;
    // A fresh grant: section 3 revoked the first one's family.
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const { callback } = await follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: "openid profile email offline_access",
        code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
        code_challenge_method: "S256",
        nonce: "n",
      }),
      jar,
      origin,
    );
    const fresh = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier, expectedNonce: "n" });

    const live = await client.tokenIntrospection(config, fresh.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, web.client_id);
    assert.equal(live.sub, user.id);
    assert.equal(live.iss, issuer);
    assert.equal(live.token_type, "Bearer");
    assert.deepEqual(live.scope.split(" ").sort(), ["email", "offline_access", "openid", "profile"]);
    assert.ok(live.exp > live.iat);
    const refresh = await client.tokenIntrospection(config, fresh.refresh_token, { token_type_hint: "refresh_token" });
    assert.equal(refresh.active, true);
    assert.equal(refresh.sub, user.id);

    await client.tokenRevocation(config, fresh.access_token, { token_type_hint: "access_token" });
    assert.deepEqual(await client.tokenIntrospection(config, fresh.access_token), { active: false });
    await assert.rejects(client.fetchUserInfo(config, fresh.access_token, user.id), (e) => {
      assert.equal(e.status, 401, `${e.name}: ${e.message}`);
      return true;
    });

    await client.tokenRevocation(config, fresh.refresh_token, { token_type_hint: "refresh_token" });
    assert.deepEqual(await client.tokenIntrospection(config, fresh.refresh_token), { active: false });
    await assert.rejects(client.refreshTokenGrant(config, fresh.refresh_token), (e) => {
      assert.equal(e.error, "invalid_grant");
      return true;
    });
    // Revoking an unknown token is a success (RFC 7009 §2.2).
    await client.tokenRevocation(config, "not-a-token");
  });

  await t.test("6. prompt=none for a signed-out browser: login_required at the redirect URI", async () => {
    const { config } = rp;
    const state = client.randomState();
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: "S256",
      prompt: "none",
      state,
    });
    const { callback } = await follow(url, null, origin);
    assert.equal(callback.searchParams.get("error"), "login_required");
    await assert.rejects(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier, expectedState: state }),
      (e) => {
        assert.ok(e instanceof client.AuthorizationResponseError, `${e.name}: ${e.message}`);
        assert.equal(e.error, "login_required");
        return true;
      },
    );
  });

  await t.test("7. a client_secret_post client works with the three-argument discovery()", async () => {
    // openid-client's default client authentication for a string secret is
    // client_secret_post; Gatehouse holds a client to the method it registered.
    const post = await createClient({
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "client_secret_post",
    });
    const config = await client.discovery(new URL(issuer), post.client_id, post.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const { callback, consented } = await follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: "openid email",
        code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
        code_challenge_method: "S256",
      }),
      jar,
      origin,
    );
    assert.ok(consented, "consent is per client");
    const got = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier });
    assert.equal(got.claims().aud, post.client_id);
  });

  await t.test("8. the device flow (RFC 8628): a public client polls while the user approves", async () => {
    const tv = await createClient({
      client_name: "openid-client TV",
      token_endpoint_auth_method: "none",
      application_type: "native",
      grant_types: ["urn:ietf:params:oauth:grant-type:device_code"],
    });
    const config = await client.discovery(new URL(issuer), tv.client_id, undefined, client.None(), {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    });
    assert.equal(config.serverMetadata().device_authorization_endpoint, `${issuer}/oauth2/device-authorization`);
    const started = await client.initiateDeviceAuthorization(config, { scope: "openid profile offline_access" });
    assert.match(started.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
    assert.equal(started.verification_uri, `${origin}/device`);
    assert.equal(started.interval, 1);

    // The user, signed in on another device, enters the code and approves
    // (what the app's /device page does), while the TV polls.
    const approve = (async () => {
      await new Promise((r) => setTimeout(r, 1500));
      const seen = ok(await auth.$fetch("/oauth2/device", { method: "GET", query: { user_code: started.user_code } }));
      assert.equal(seen.client_name, "openid-client TV");
      assert.equal(seen.scope, "openid profile offline_access");
      ok(await auth.$fetch("/oauth2/device/approve", { method: "POST", body: { userCode: started.user_code } }));
    })();
    const got = await client.pollDeviceAuthorizationGrant(config, started);
    await approve;
    assert.equal(got.claims().sub, user.id);
    assert.equal(got.claims().aud, tv.client_id);
    assert.ok(got.refresh_token);
    const info = await client.fetchUserInfo(config, got.access_token, user.id);
    assert.equal(info.name, "Relying Party User");
    assert.equal(info.email, undefined, "no email scope was asked for");
  });

  await t.test("9. private_key_jwt: a service authenticates with a signed assertion", async () => {
    const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const jwk = await crypto.subtle.exportKey("jwk", publicKey);
    const svc = await createClient({
      client_name: "openid-client service",
      token_endpoint_auth_method: "private_key_jwt",
      grant_types: ["client_credentials"],
      scope: "read:reports",
      jwks: { keys: [{ ...jwk, kid: "svc-1", alg: "ES256", use: "sig" }] },
    });
    assert.equal(svc.client_secret, undefined, "no secret for private_key_jwt");
    const config = await client.discovery(
      new URL(issuer),
      svc.client_id,
      undefined,
      client.PrivateKeyJwt({ key: privateKey, kid: "svc-1" }),
      { execute: [client.allowInsecureRequests] },
    );
    assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes("private_key_jwt"));
    const got = await client.clientCredentialsGrant(config, { scope: "read:reports" });
    assert.equal(got.scope, "read:reports");
    // Each request carries a fresh assertion (a new jti): a second one works too.
    const again = await client.clientCredentialsGrant(config, { scope: "read:reports" });
    assert.notEqual(again.access_token, got.access_token);
    const live = await client.tokenIntrospection(config, got.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, svc.client_id);
  });

  await t.test("10. max_age, then RP-initiated logout through buildEndSessionUrl", async () => {
    const BYE = "https://rp.example/bye";
    const app = await createClient({
      client_name: "openid-client logout RP",
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: [BYE],
    });
    const config = await client.discovery(
      new URL(issuer),
      app.client_id,
      app.client_secret,
      client.ClientSecretBasic(app.client_secret),
      { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
    );
    assert.equal(config.serverMetadata().end_session_endpoint, `${issuer}/oauth2/end-session`);
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const code_challenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
    const authorize = (extra) =>
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: "openid",
        code_challenge,
        code_challenge_method: "S256",
        ...extra,
      });

    // max_age: a sign-in older than that sends the browser back to the login page.
    const stale = await navigate(authorize({ max_age: "0" }), jar.header());
    assert.equal(stale.status, 302, stale.body);
    assert.ok(stale.location.startsWith(`${origin}/sign-in?`), stale.location);
    // Within it, the code; openid-client checks auth_time against max_age.
    const nonce = client.randomNonce();
    const { callback } = await follow(authorize({ max_age: "3600", nonce }), jar, origin);
    const before = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier,
      expectedNonce: nonce,
      maxAge: 3600,
    });
    // Until the operator allows it, the client cannot sign users out; its
    // ID tokens carry no sid.
    assert.equal(before.claims().sid, undefined);
    const refused = await navigate(
      client.buildEndSessionUrl(config, { id_token_hint: before.id_token, post_logout_redirect_uri: BYE }).href,
      jar.header(),
    );
    assert.equal(refused.status, 401, refused.body);
    assert.equal(JSON.parse(refused.body).error, "invalid_client");
    assert.ok(ok(await auth.getSession()).user, "still signed in");

    // The operator allows it (what `gatehouse oauth-provider client` is for).
    const cli = spawnSync(process.env.GATEHOUSE_BIN, ["oauth-provider", "client", app.client_id, "--enable-end-session", "true"], {
      env: serverEnv,
      encoding: "utf8",
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`updated OAuth client ${app.client_id}`));
    // Running servers read clients anew after session.cache_ttl (5 s).
    await new Promise((r) => setTimeout(r, 5500));

    const again = await follow(authorize({ nonce }), jar, origin);
    const tokens = await client.authorizationCodeGrant(config, again.callback, { pkceCodeVerifier, expectedNonce: nonce });
    const sid = tokens.claims().sid;
    assert.equal(sid, ok(await auth.getSession()).session.id);
    const endUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: BYE,
      state: "bye-1",
    });
    assert.equal(endUrl.origin + endUrl.pathname, `${issuer}/oauth2/end-session`);
    const out = await navigate(endUrl.href, jar.header());
    assert.equal(out.status, 302, out.body);
    assert.equal(out.location, `${BYE}?state=bye-1`);
    assert.equal((await auth.getSession()).data, null, "signed out");
  });
});

/**
 * Runs a fresh code flow whose token answer has its ID token's payload
 * altered in transit (signature kept): resolves true when openid-client
 * refuses it for its signature.
 */
async function forgedIdTokenRefused(issuer, web, jar, origin) {
  const tamper = async (url, options) => {
    const res = await fetch(url, options);
    if (!new URL(url).pathname.endsWith("/oauth2/token")) return res;
    const body = await res.json();
    const [h, p, s] = body.id_token.split(".");
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    payload.email = "attacker@example.com";
    body.id_token = [h, b64url(JSON.stringify(payload)), s].join(".");
    return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
  };
  const config = await client.discovery(
    new URL(issuer),
    web.client_id,
    web.client_secret,
    client.ClientSecretBasic(web.client_secret),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks], [client.customFetch]: tamper },
  );
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const { callback } = await follow(
    client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid email",
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: "S256",
    }),
    jar,
    origin,
  );
  try {
    await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier });
  } catch (e) {
    // openid-client wraps oauth4webapi's error: the cause is the signature.
    assert.equal(e.code, "OAUTH_INVALID_RESPONSE", `${e.name} ${e.code}: ${e.message}`);
    assert.equal(e.cause?.message, "JWT signature verification failed", `${e.cause}`);
    return true;
  }
  return false;
}
