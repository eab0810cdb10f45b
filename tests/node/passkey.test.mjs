// Passkeys end to end in headless Chromium (Debian's `chromium`, driven by playwright-core)
// with a virtual authenticator added over the DevTools protocol. A small app served here
// runs the ceremonies with @simplewebauthn/browser (what Better Auth's passkeyClient uses)
// and reaches Gatehouse under /api/auth on the same origin (proxied), as a real deployment would.
//
// Run through tests/node/run.sh (it exports GATEHOUSE_BIN and the database to use).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SIMPLEWEBAUTHN = readFileSync(
  join(dirname(fileURLToPath(import.meta.url)), "node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js"),
);

/** The app page: fetch wrappers and the WebAuthn ceremonies through @simplewebauthn/browser. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>passkey test app</title>
<script src="/simplewebauthn.js"></script><script>
const b64u = {
  enc: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""),
  dec: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)),
};
async function api(method, path, body) {
  const r = await fetch("/api/auth" + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
// The same calls Better Auth's passkeyClient makes (@simplewebauthn/browser).
async function register(name) {
  const o = await api("GET", "/passkey/generate-register-options");
  if (o.status !== 200) return o;
  const response = await SimpleWebAuthnBrowser.startRegistration({ optionsJSON: o.body });
  return api("POST", "/passkey/verify-registration", { response, name });
}
async function assertion() {
  const o = await api("GET", "/passkey/generate-authenticate-options");
  return SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: o.body });
}
function tamper(response) {
  const sig = b64u.dec(response.response.signature);
  sig[sig.length - 1] ^= 0x01;
  return { ...response, response: { ...response.response, signature: b64u.enc(sig) } };
}
</script><p>ready</p>`;

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

let gatehouse;
let app;
let appOrigin;
let browser;

before(async () => {
  const bin = process.env.GATEHOUSE_BIN;
  assert.ok(bin, "GATEHOUSE_BIN is set by tests/node/run.sh");
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt install chromium)`);
  const appPort = await freePort();
  const authPort = await freePort();
  // WebAuthn needs a secure context and a domain RP ID: http://localhost qualifies.
  appOrigin = `http://localhost:${appPort}`;
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-passkey-"));
  const db = /^postgres(ql)?:\/\//.test(process.env.GATEHOUSE_DB_URL ?? "")
    ? process.env.GATEHOUSE_DB_URL
    : `sqlite://${join(dir, "p.db")}`;
  gatehouse = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: db,
      GATEHOUSE_LISTEN: `127.0.0.1:${authPort}`,
      GATEHOUSE_BASE_URL: appOrigin,
      GATEHOUSE_SECRET: randomBytes(24).toString("hex"),
      GATEHOUSE_RATE_LIMIT: "off",
      GATEHOUSE_PLUGINS: "passkey",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  // The app: the page at /, and /api/auth/* passed through to Gatehouse.
  app = createServer((req, res) => {
    if (req.url === "/simplewebauthn.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(SIMPLEWEBAUTHN);
      return;
    }
    if (!req.url.startsWith("/api/auth/")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
      return;
    }
    const upstream = httpRequest(
      { host: "127.0.0.1", port: authPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise((r) => app.listen(appPort, "127.0.0.1", r));
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${authPort}/api/auth/ok`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 100) throw new Error("gatehouse did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  app?.close();
  gatehouse?.kill();
});

/** A fresh browser profile with a platform authenticator that holds resident keys. */
async function newDevice() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(appOrigin + "/");
  return { page, cdp, authenticatorId, context };
}

async function signUp(page) {
  const email = `passkey-${randomBytes(5).toString("hex")}@example.com`;
  const r = await page.evaluate(
    (email) => api("POST", "/sign-up/email", { name: "Passkey User", email, password: "passkey-password-1" }),
    email,
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return email;
}

test("passkey registration and passwordless sign-in", async () => {
  const { page, cdp, authenticatorId, context } = await newDevice();
  const email = await signUp(page);

  const registered = await page.evaluate(() => register("Laptop"));
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  assert.equal(registered.body.name, "Laptop");
  assert.match(registered.body.credentialID, /^[A-Za-z0-9_-]+$/);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true);
  assert.equal(
    Buffer.from(credentials[0].credentialId, "base64").toString("base64url"),
    registered.body.credentialID,
  );

  const listed = await page.evaluate(() => api("GET", "/passkey/list-user-passkeys"));
  assert.equal(listed.body.length, 1);
  assert.equal(listed.body[0].id, registered.body.id);

  // Signed out, the passkey alone signs in (discoverable credential, no user named).
  await page.evaluate(() => api("POST", "/sign-out", {}));
  assert.equal((await page.evaluate(() => api("GET", "/get-session"))).body, null);
  const signedIn = await page.evaluate(async () => api("POST", "/passkey/verify-authentication", { response: await assertion() }));
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.equal(signedIn.body.user.email, email);
  const session = await page.evaluate(() => api("GET", "/get-session"));
  assert.equal(session.body.user.email, email);
  assert.equal(session.body.session.token, signedIn.body.session.token);
  const after = await page.evaluate(() => api("GET", "/passkey/list-user-passkeys"));
  assert.ok(after.body[0].counter >= 1, "the signature counter was stored");

  // Rename and delete, owner only.
  const renamed = await page.evaluate((id) => api("POST", "/passkey/update-passkey", { id, name: "Work laptop" }), registered.body.id);
  assert.equal(renamed.body.passkey.name, "Work laptop");
  const other = await newDevice();
  await signUp(other.page);
  const stolen = await other.page.evaluate((id) => api("POST", "/passkey/delete-passkey", { id }), registered.body.id);
  // Someone else's passkey: 401, as Better Auth answers (with a code here).
  assert.equal(stolen.status, 401);
  assert.equal(stolen.body.code, "UNAUTHORIZED");
  const deleted = await page.evaluate((id) => api("POST", "/passkey/delete-passkey", { id }), registered.body.id);
  assert.deepEqual(deleted.body, { status: true });
  await other.context.close();
  await context.close();
});

test("a tampered assertion and a replayed challenge are rejected", async () => {
  const { page, context } = await newDevice();
  await signUp(page);
  assert.equal((await page.evaluate(() => register("Key"))).status, 200);
  await page.evaluate(() => api("POST", "/sign-out", {}));

  // One flipped signature bit: refused, and no session.
  const tampered = await page.evaluate(async () =>
    api("POST", "/passkey/verify-authentication", { response: tamper(await assertion()) }),
  );
  assert.equal(tampered.status, 401, JSON.stringify(tampered.body));
  assert.equal(tampered.body.code, "AUTHENTICATION_FAILED");
  assert.equal((await page.evaluate(() => api("GET", "/get-session"))).body, null);

  // A good assertion works once; its challenge is spent.
  const replay = await page.evaluate(async () => {
    const response = await assertion();
    const first = await api("POST", "/passkey/verify-authentication", { response });
    const again = await api("POST", "/passkey/verify-authentication", { response });
    await api("GET", "/passkey/generate-authenticate-options"); // a new, different challenge
    const stale = await api("POST", "/passkey/verify-authentication", { response });
    return { first, again, stale };
  });
  assert.equal(replay.first.status, 200, JSON.stringify(replay.first.body));
  assert.equal(replay.again.status, 400);
  assert.equal(replay.again.body.code, "CHALLENGE_NOT_FOUND");
  assert.equal(replay.stale.status, 401);
  assert.equal(replay.stale.body.code, "AUTHENTICATION_FAILED");
  await context.close();
});
