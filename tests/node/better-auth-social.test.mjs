// Better Auth's own client signing in through a provider: `signIn.social`
// (redirect and ID-token forms), `linkSocial`, `listAccounts` and
// `unlinkAccount` against Gatehouse with `generic-oauth` in front of the
// OpenID provider of tests/providers (oidc-provider, on loopback). The user's
// browser at the provider is a cookie jar following redirects.
//
// Run through tests/node/run.sh (this suite starts its own server and provider).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { CookieJar } from "./cookie-jar.mjs";
import { browser, freePort, ok, refused, startGatehouse } from "./harness.mjs";

const providers = join(dirname(fileURLToPath(import.meta.url)), "..", "providers");
const NATIVE = "http://127.0.0.1:9/native";

/** op.mjs on a free port, with one client for these redirect URIs. */
async function startOp(t, redirectUris) {
  const port = await freePort();
  const client = {
    client_id: "local-oidc",
    client_secret: "local-oidc-secret",
    redirect_uris: redirectUris,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  };
  const child = spawn(process.execPath, [join(providers, "op.mjs"), String(port)], {
    cwd: providers,
    env: { PATH: process.env.PATH, OP_CLIENTS: JSON.stringify([client]) },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  t.after(async () => {
    child.kill();
    await exited;
  });
  await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("READY ")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`op.mjs exited (${code})`)));
  });
  return `http://127.0.0.1:${port}`;
}

/** A browser at the provider: follows redirects from `url` until one starts with `stop`. */
async function atProvider(url, stop) {
  const jar = new CookieJar();
  let current = url;
  for (let i = 0; i < 20 && !current.startsWith(stop); i++) {
    const headers = new Headers();
    if (jar.header()) headers.set("cookie", jar.header());
    const res = await fetch(current, { headers, redirect: "manual" });
    for (const sc of res.headers.getSetCookie()) jar.store(sc);
    assert.ok(res.headers.get("location"), `${current} answered ${res.status} without a redirect`);
    current = new URL(res.headers.get("location"), current).toString();
  }
  assert.ok(current.startsWith(stop), current);
  return current;
}

/** The app's own browser opening the callback (redirects not followed). */
async function open(jar, url, origin) {
  const headers = new Headers({ origin });
  if (jar.header()) headers.set("cookie", jar.header());
  const res = await fetch(url, { headers, redirect: "manual" });
  for (const sc of res.headers.getSetCookie()) jar.store(sc);
  return res;
}

async function server(t) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const op = await startOp(t, [`${url}/api/auth/callback/local-oidc`, NATIVE]);
  const toml = [
    "[generic_oauth.local-oidc]",
    'client_id = "local-oidc"',
    'client_secret = "local-oidc-secret"',
    `discovery_url = "${op}/.well-known/openid-configuration"`,
    'scopes = ["openid", "email", "profile"]',
    "",
  ].join("\n");
  const gh = await startGatehouse(t, { name: "social", plugins: "generic-oauth", toml, port });
  assert.equal(gh.url, url);
  return { url, op };
}

test("signIn.social and linkSocial through a real OpenID provider", async (t) => {
  const { url } = await server(t);
  const api = `${url}/api/auth`;
  const email = `ba-social-${randomBytes(5).toString("hex")}@example.com`;

  // Redirect flow: the client gets the authorization URL; the provider sends
  // the browser back to the callback, which signs it in.
  const a = browser(url, []);
  const started = ok(
    await a.client.signIn.social({ provider: "local-oidc", callbackURL: "/home", newUserCallbackURL: "/welcome", loginHint: email }),
  );
  assert.equal(started.redirect, true);
  const callback = await atProvider(started.url, `${api}/callback/local-oidc`);
  const res = await open(a.jar, callback, url);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "/welcome");
  const session = ok(await a.client.getSession());
  assert.equal(session.user.email, email);
  assert.equal(session.user.emailVerified, true);
  const accounts = ok(await a.client.listAccounts());
  assert.deepEqual(accounts.map((x) => x.providerId), ["local-oidc"]);
  refused(await a.client.unlinkAccount({ accountId: accounts[0].id }), 400, "FAILED_TO_UNLINK_LAST_ACCOUNT");

  // An unknown provider is named as such.
  refused(await a.client.signIn.social({ provider: "nope" }), 404, "PROVIDER_NOT_FOUND");

  // linkSocial: a password user adds the provider, then unlinks it.
  const b = browser(url, []);
  const other = `ba-link-${randomBytes(5).toString("hex")}@example.com`;
  ok(await b.client.signUp.email({ name: "Linker", email: other, password: "linker-password-1" }));
  const link = ok(await b.client.linkSocial({ provider: "local-oidc", callbackURL: "/settings", loginHint: other }));
  const back = await atProvider(link.url, `${api}/callback/local-oidc`);
  const linked = await open(b.jar, back, url);
  assert.equal(linked.headers.get("location"), "/settings");
  const both = ok(await b.client.listAccounts());
  assert.deepEqual(both.map((x) => x.providerId).sort(), ["credential", "local-oidc"]);
  const oidc = both.find((x) => x.providerId === "local-oidc");
  assert.deepEqual(ok(await b.client.unlinkAccount({ accountId: oidc.id })), { status: true });
  assert.equal(ok(await b.client.listAccounts()).length, 1);
});

test("signIn.social with an ID token a native app obtained", async (t) => {
  const { url, op } = await server(t);
  const email = `ba-native-${randomBytes(5).toString("hex")}@example.com`;
  // The app's own code flow at the provider (as a mobile SDK runs it).
  const verifier = randomBytes(32).toString("base64url");
  const authorize = new URL(`${op}/auth`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: "local-oidc",
    redirect_uri: NATIVE,
    scope: "openid email profile",
    state: "s",
    nonce: "app-nonce",
    login_hint: email,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }))
    authorize.searchParams.set(k, v);
  const code = new URL(await atProvider(authorize.toString(), NATIVE)).searchParams.get("code");
  const tokens = await (
    await fetch(`${op}/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: NATIVE,
        code_verifier: verifier,
        client_id: "local-oidc",
        client_secret: "local-oidc-secret",
      }),
    })
  ).json();

  const a = browser(url, []);
  refused(
    await a.client.signIn.social({ provider: "local-oidc", idToken: { token: tokens.id_token, nonce: "other" } }),
    401,
    "INVALID_TOKEN",
  );
  const signedIn = ok(await a.client.signIn.social({ provider: "local-oidc", idToken: { token: tokens.id_token, nonce: "app-nonce" } }));
  assert.equal(signedIn.redirect, false);
  assert.equal(signedIn.user.email, email);
  assert.equal(ok(await a.client.getSession()).user.email, email);
});
