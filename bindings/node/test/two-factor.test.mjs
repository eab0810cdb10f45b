// @gatehouse/client drives a two-factor sign-in end to end: enable TOTP, sign in (answered
// with twoFactorRedirect), finish with a TOTP code computed here from the otpauth:// URI
// (RFC 6238 over node:crypto, independent of the server), then with an emailed code.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import gatehouse from "../index.js";
import { decodeQP, serverWithMail, totp, waitFor } from "../test-support/helpers.mjs";

const { createAuthClient, twoFactorClient } = gatehouse;

test("two-factor sign-in end to end through @gatehouse/client", async (t) => {
  const { url, sink } = await serverWithMail(t, "two-factor");
  const email = `node-2fa-${randomBytes(5).toString("hex")}@example.com`;
  const password = "node-two-factor-pw";
  const owner = createAuthClient({ baseURL: url, plugins: [twoFactorClient()] });
  assert.equal((await owner.signUp.email({ name: "Node 2FA", email, password })).error, null);

  const enabled = await owner.twoFactor.enable({ password });
  assert.equal(enabled.error, null);
  const uri = enabled.data.totpURI;
  assert.match(uri, /^otpauth:\/\/totp\/Gatehouse:node-2fa-[0-9a-f]+%40example\.com\?secret=[A-Z2-7]+&issuer=Gatehouse&digits=6&period=30$/);
  assert.equal(enabled.data.backupCodes.length, 10);
  const now = Date.now() / 1000;
  const confirmed = await owner.twoFactor.verifyTotp({ code: totp(uri, now) });
  assert.equal(confirmed.error, null);
  // Better Auth's answer: the user as the request found it; the session
  // moved to a new one, on which two-factor is on.
  assert.equal(confirmed.data.user.twoFactorEnabled, false);
  assert.equal((await owner.getSession()).data.user.twoFactorEnabled, true);

  // Another device: the password answers with a challenge, not a session.
  const redirects = [];
  const phone = createAuthClient({
    baseURL: url,
    plugins: [twoFactorClient({ onTwoFactorRedirect: (ctx) => redirects.push(ctx) })],
  });
  const challenged = await phone.signIn.email({ email, password });
  assert.deepEqual(challenged, { data: { twoFactorRedirect: true, twoFactorMethods: ["totp", "otp"] }, error: null });
  assert.deepEqual(redirects, [{ twoFactorMethods: ["totp", "otp"] }]);
  assert.equal((await phone.getSession()).data, null);

  // The code just used is spent; the next step's code (inside the ±1 window) completes it.
  const reused = await phone.twoFactor.verifyTotp({ code: totp(uri, now) });
  assert.equal(reused.error.code, "INVALID_CODE");
  assert.equal(reused.error.status, 401);
  const done = await phone.twoFactor.verifyTotp({ code: totp(uri, now + 30) });
  assert.equal(done.error, null);
  const session = await phone.getSession();
  assert.equal(session.data.user.email, email);
  assert.equal(session.data.session.token, done.data.token);

  // By email through the SMTP sink.
  const laptop = createAuthClient({ baseURL: url, plugins: [twoFactorClient()] });
  assert.equal((await laptop.signIn.email({ email, password })).data.twoFactorRedirect, true);
  assert.deepEqual(await laptop.twoFactor.sendOtp({}), { data: { status: true }, error: null });
  const mail = await waitFor(() => sink.mails.find((m) => m.to.includes(email)), "the mail");
  const code = decodeQP(mail.data).match(/^\s*(\d{6})\s*$/m)[1];
  const viaMail = await laptop.twoFactor.verifyOtp({ code });
  assert.equal(viaMail.error, null);
  assert.equal((await laptop.getSession()).data.user.email, email);

  // Without the plugin registered, the namespace does not exist.
  const plain = createAuthClient({ baseURL: url });
  assert.equal(plain.twoFactor, undefined);
});
