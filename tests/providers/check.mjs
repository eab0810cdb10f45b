// Self-check of the loopback providers: starts op.mjs and ghmock.mjs on free
// ports and asserts the behaviour the social sign-in tests rely on. Exits
// non-zero on the first failed assertion.
//   node check.mjs
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const redirectUri = "http://localhost:3000/api/auth/callback/local-oidc";

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const children = [];
process.on("exit", () => children.forEach((c) => c.kill()));

/** Starts `node <script> <port>` and resolves with its base URL once it prints READY. */
async function start(script, env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [script, String(port)], {
    cwd: here,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/READY (\S+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

const opIssuer = await start("op.mjs", { OP_REDIRECT_URIS: redirectUri });
process.env.OP_ISSUER = opIssuer;
process.env.OP_REDIRECT_URI = redirectUri;
const { run } = await import("./flow.mjs");

const discovery = await (await fetch(`${opIssuer}/.well-known/openid-configuration`)).json();
assert.equal(discovery.issuer, opIssuer);
assert.deepEqual(discovery.code_challenge_methods_supported, ["S256"]);
assert.equal(discovery.authorization_response_iss_parameter_supported, true);
console.log("ok - discovery: S256 only, RFC 9207 iss");

const alice = await run({ login: "alice@example.com" });
assert.equal(alice.tokenStatus, 200);
assert.equal(alice.idToken.email, "alice@example.com");
assert.equal(alice.idToken.email_verified, true);
assert.equal(alice.userinfo.sub, alice.idToken.sub);
assert.match(alice.refresh, /^200 /);
assert.match(alice.codeReplay, /^400 .*invalid_grant/);
console.log("ok - code flow with PKCE, ID token verified by jose, userinfo, refresh, code replay refused");

const bob = await run({ login: "unverified.bob@example.com" });
assert.equal(bob.idToken.email_verified, false);
console.log("ok - an unverified address is reported as such");

const wrong = await run({ login: "alice@example.com", wrongVerifier: true });
assert.equal(wrong.tokenStatus, 400);
assert.equal(wrong.tokens.error, "invalid_grant");
console.log("ok - a wrong PKCE verifier is refused");

const denied = await run({ login: "deny@example.com" });
assert.equal(denied.callbackQuery.error, "access_denied");
assert.equal(denied.callbackQuery.iss, opIssuer);
console.log("ok - a cancelled login comes back as access_denied with iss");

// GitHub-shaped OAuth 2: authorize -> code, token (PKCE checked), /user and /user/emails.
const gh = await start("ghmock.mjs");
const verifier = randomBytes(48).toString("base64url");
const authorize = new URL(`${gh}/login/oauth/authorize`);
authorize.search = new URLSearchParams({
  client_id: "github-client",
  redirect_uri: "http://localhost:3000/api/auth/callback/github",
  state: "s1",
  scope: "read:user user:email",
  login: "octo-private",
  code_challenge: createHash("sha256").update(verifier).digest("base64url"),
  code_challenge_method: "S256",
});
const back = new URL((await fetch(authorize, { redirect: "manual" })).headers.get("location"));
assert.equal(back.searchParams.get("state"), "s1");
const exchange = (code_verifier) =>
  fetch(`${gh}/login/oauth/access_token`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ code: back.searchParams.get("code"), code_verifier }),
  }).then((r) => r.json());
const token = await exchange(verifier);
assert.match(token.access_token, /^gho_/);
assert.equal((await exchange(verifier)).error, "bad_verification_code", "a code is single use");
const headers = { authorization: `Bearer ${token.access_token}` };
const profile = await (await fetch(`${gh}/user`, { headers })).json();
assert.equal(profile.email, null, "a private address is absent from /user");
const emails = await (await fetch(`${gh}/user/emails`, { headers })).json();
assert.deepEqual(
  emails.filter((e) => e.primary && e.verified).map((e) => e.email),
  ["octo-private@example.com"],
);
assert.equal((await fetch(`${gh}/user`)).status, 401);
console.log("ok - GitHub shape: single-use code with PKCE, private address only in /user/emails");
process.exit(0);
