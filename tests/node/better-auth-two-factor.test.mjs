// Better Auth's own `twoFactorClient` against Gatehouse: enable, confirm, a sign-in that
// answers twoFactorRedirect (its fetch hook fires), finished with a TOTP code from otplib
// (an independent implementation reading the otpauth:// URI), and a backup code.
//
// Run through tests/node/run.sh (its server has the two-factor plugin).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { createAuthClient } from "better-auth/client";
import { twoFactorClient } from "better-auth/client/plugins";
import { generate } from "otplib";

import { CookieJar } from "./cookie-jar.mjs";

const BASE = process.env.GATEHOUSE_URL;
if (!BASE) throw new Error("GATEHOUSE_URL is not set; run this suite through tests/node/run.sh");
const ORIGIN = new URL(BASE).origin;

/** A Better Auth client with its own cookie jar (one "device"). */
function device(onTwoFactorRedirect) {
  const jar = new CookieJar();
  const customFetchImpl = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    headers.set("origin", ORIGIN);
    const res = await fetch(input, { ...init, headers });
    for (const sc of res.headers.getSetCookie()) jar.store(sc);
    return res;
  };
  const client = createAuthClient({
    baseURL: BASE,
    plugins: [twoFactorClient({ onTwoFactorRedirect })],
    fetchOptions: { customFetchImpl },
  });
  return { client, jar };
}

const codeAt = (uri, seconds) =>
  generate({ secret: new URL(uri).searchParams.get("secret"), epoch: Math.floor(seconds) });

test("Better Auth twoFactorClient: TOTP and backup-code sign-in", async () => {
  const email = `ba-2fa-${randomBytes(5).toString("hex")}@example.com`;
  const password = "better-auth-2fa-pw";
  const owner = device();
  assert.equal((await owner.client.signUp.email({ name: "BA 2FA", email, password })).error, null);

  const enabled = await owner.client.twoFactor.enable({ password });
  assert.equal(enabled.error, null, JSON.stringify(enabled.error));
  const uri = enabled.data.totpURI;
  assert.match(uri, /^otpauth:\/\/totp\//);
  assert.equal(enabled.data.backupCodes.length, 10);
  const now = Date.now() / 1000;
  const confirmed = await owner.client.twoFactor.verifyTotp({ code: await codeAt(uri, now) });
  assert.equal(confirmed.error, null, JSON.stringify(confirmed.error));
  // As Better Auth answers: the user as the request found it; the session
  // moved to a new one, on which two-factor is on.
  assert.equal(confirmed.data.user.twoFactorEnabled, false);
  assert.equal((await owner.client.getSession()).data.user.twoFactorEnabled, true);

  // Another device: the hook fires, there is a challenge cookie and no session.
  const redirects = [];
  const phone = device((ctx) => redirects.push(ctx.twoFactorMethods));
  const signIn = await phone.client.signIn.email({ email, password });
  assert.equal(signIn.error, null);
  assert.equal(signIn.data.twoFactorRedirect, true);
  // Development without SMTP logs mailed codes, so "otp" is offered too.
  assert.deepEqual(redirects, [["totp", "otp"]]);
  assert.ok(phone.jar.has("better-auth.two_factor"));
  assert.ok(!phone.jar.has("better-auth.session_token"));

  const wrong = await phone.client.twoFactor.verifyTotp({ code: "000000x" });
  assert.equal(wrong.error.code, "INVALID_CODE");
  assert.equal(wrong.error.status, 401);
  // The next step's code (inside the accepted window; the current one is spent).
  const done = await phone.client.twoFactor.verifyTotp({ code: await codeAt(uri, now + 30), trustDevice: true });
  assert.equal(done.error, null, JSON.stringify(done.error));
  assert.ok(phone.jar.has("better-auth.session_token"));
  assert.ok(phone.jar.has("better-auth.trust_device"));
  assert.ok(!phone.jar.has("better-auth.two_factor"));
  const session = await phone.client.getSession();
  assert.equal(session.data.user.email, email);

  // A backup code, once.
  const laptop = device();
  await laptop.client.signIn.email({ email, password });
  const backup = await laptop.client.twoFactor.verifyBackupCode({ code: enabled.data.backupCodes[0] });
  assert.equal(backup.error, null, JSON.stringify(backup.error));
  const again = device();
  await again.client.signIn.email({ email, password });
  const reused = await again.client.twoFactor.verifyBackupCode({ code: enabled.data.backupCodes[0] });
  assert.equal(reused.error.code, "INVALID_BACKUP_CODE");

  // Disable: one step again.
  const off = await owner.client.twoFactor.disable({ password });
  assert.deepEqual(off.data, { status: true });
  const plain = device();
  const direct = await plain.client.signIn.email({ email, password });
  assert.equal(typeof direct.data.token, "string");
});
