// Every plugin namespace of the spec, through its generated method and
// Better Auth's factory name, against a server with every plugin; and a
// client whose first connection failed connects on a later call.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import gatehouse, { createAuthClient as namedCreate, emailOTPClient as namedEmailOtp } from "../index.js";
import { freePort, serverWithMail, spawnGatehouse, totp, waitFor } from "../test-support/helpers.mjs";

const { createAuthClient, usernameClient, magicLinkClient, emailOTPClient, twoFactorClient, passkeyClient } =
  gatehouse;
const PASSWORD = "node-namespaces-password-1";
const rand = () => randomBytes(5).toString("hex");

test("ES modules import the client and every factory by name", () => {
  assert.equal(namedCreate, createAuthClient);
  assert.deepEqual(namedEmailOtp(), { id: "email-otp" });
});

test("one generated method of every plugin namespace, typed by the spec", async (t) => {
  const { url, sink } = await serverWithMail(t, "username,magic-link,email-otp,two-factor,passkey", "localhost");
  let redirected = null;
  const plugins = [
    usernameClient(),
    magicLinkClient(),
    emailOTPClient(),
    twoFactorClient({ onTwoFactorRedirect: (context) => (redirected = context) }),
    passkeyClient(),
  ];
  assert.deepEqual(
    plugins.map((p) => p.id),
    ["username", "magic-link", "email-otp", "two-factor", "passkey"],
  );
  const client = createAuthClient({ baseURL: url, plugins });
  const email = `ns-${rand()}@example.com`;

  const up = await client.signUp.email({ name: "Namespaces", email, password: PASSWORD });
  assert.equal(up.error, null);
  assert.deepEqual((await client.isUsernameAvailable({ username: `ns_${rand()}` })).data, { available: true });
  assert.deepEqual((await client.signIn.magicLink({ email: `ml-${rand()}@example.com` })).data, { status: true });
  assert.deepEqual((await client.emailOtp.sendVerificationOtp({ email, type: "sign-in" })).data, { success: true });
  await waitFor(() => sink.mails.length >= 2, "two mails");
  const options = await client.passkey.generateRegisterOptions({ query: { name: "Phone" } });
  assert.equal(options.error, null);
  assert.equal(options.data.rp.id, "localhost");
  assert.deepEqual((await client.passkey.listUserPasskeys()).data, []);
  const enabled = await client.twoFactor.enable({ password: PASSWORD });
  assert.equal(enabled.error, null);
  assert.match(enabled.data.totpURI, /^otpauth:\/\/totp\//);
  assert.equal(enabled.data.backupCodes.length, 10);

  // Before the first code, the password alone still signs in: no challenge.
  await client.signOut();
  assert.equal((await client.signIn.email({ email, password: PASSWORD })).error, null);
  assert.equal(redirected, null);
  // With two-factor on, the generated `onTwoFactorRedirect` option fires with the challenge.
  const code = totp(enabled.data.totpURI, Date.now() / 1000);
  assert.equal((await client.twoFactor.verifyTotp({ code })).error, null);
  await client.signOut();
  const challenged = await client.signIn.email({ email, password: PASSWORD });
  assert.equal(challenged.data.twoFactorRedirect, true);
  assert.deepEqual(redirected, { twoFactorMethods: ["totp", "otp"] });

  const wrong = await client.signIn.email({ email, password: "wrong-password-9" });
  assert.equal(wrong.error.code, "INVALID_EMAIL_OR_PASSWORD");
});

test("a client whose first connection failed connects on a later call", async (t) => {
  const port = await freePort();
  const client = createAuthClient({ baseURL: `http://127.0.0.1:${port}` });
  const down = await client.ok();
  assert.equal(down.error.code, "NETWORK_ERROR");

  spawnGatehouse(t, port);
  const up = await waitFor(async () => {
    const r = await client.ok();
    return r.error ? null : r;
  }, "the same client to connect");
  assert.deepEqual(up.data, { ok: true });
});
