// @gatehouse/client drives mailed sign-in (magic link, email OTP) end to end: the server mails
// link to a real SMTP server run here, the test reads it and opens it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import gatehouse from "../index.js";
import { decodeQP, serverWithMail, waitFor } from "../test-support/helpers.mjs";

const { createAuthClient, magicLinkClient, emailOTPClient } = gatehouse;

test("magic-link sign-in end to end through @gatehouse/client", async (t) => {
  const { url, sink } = await serverWithMail(t, "magic-link");
  const client = createAuthClient({ baseURL: url, plugins: [magicLinkClient()] });
  const email = `node-magic-${randomBytes(5).toString("hex")}@example.com`;
  const sent = await client.signIn.magicLink({ email, name: "Node Link" });
  assert.deepEqual(sent, { data: { status: true }, error: null });

  const mail = await waitFor(() => sink.mails.find((m) => m.to.includes(email)), "the mail");
  const link = decodeQP(mail.data).match(/https?:\/\/\S+\/magic-link\/verify\?token=[A-Za-z]+/)[0];
  const token = new URL(link).searchParams.get("token");

  const verified = await client.magicLink.verify({ query: { token } });
  assert.equal(verified.error, null);
  assert.equal(verified.data.user.email, email);
  const session = await client.getSession();
  assert.equal(session.data.user.name, "Node Link");
  assert.equal(session.data.user.emailVerified, true);

  const reused = await client.magicLink.verify({ query: { token } });
  // A spent link answers as Better Auth does, with a redirect to
  // `/?error=INVALID_TOKEN`; the client reports that code.
  assert.equal(reused.error.code, "INVALID_TOKEN");
  assert.equal(reused.error.status, 302);
});

test("email-OTP sign-in end to end through @gatehouse/client", async (t) => {
  const { url, sink } = await serverWithMail(t, "email-otp");
  const client = createAuthClient({ baseURL: url, plugins: [emailOTPClient()] });
  const email = `node-otp-${randomBytes(5).toString("hex")}@example.com`;
  const sent = await client.emailOtp.sendVerificationOtp({ email, type: "sign-in" });
  assert.deepEqual(sent, { data: { success: true }, error: null });

  const mail = await waitFor(() => sink.mails.find((m) => m.to.includes(email)), "the mail");
  const otp = decodeQP(mail.data).match(/^\s*(\d{6})\s*$/m)[1];
  const wrong = await client.signIn.emailOtp({ email, otp: otp === "000000" ? "111111" : "000000" });
  assert.equal(wrong.error.code, "INVALID_OTP");
  assert.equal(wrong.error.status, 400);

  const signedIn = await client.signIn.emailOtp({ email, otp });
  assert.equal(signedIn.error, null);
  const session = await client.getSession();
  assert.equal(session.data.user.email, email);
  assert.equal(session.data.session.token, signedIn.data.token);
});
