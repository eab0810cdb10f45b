// Better Auth's own `phoneNumberClient` against Gatehouse with the phone-number
// plugin: codes travel as signed POSTs to an HTTP relay run here, which checks
// each HMAC-SHA256 signature (node:crypto, over "<timestamp>.<raw body>") and
// hands the code to the test. Sign-up by code, update of the number, password
// reset by code, sign-in by number and password, and the attempt limit.
//
// The shared server of tests/node/run.sh has no relay, so this suite starts its
// own (GATEHOUSE_BIN, a fresh SQLite file, [phone_number.sms] pointing at the relay).
import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { test } from "node:test";

import { phoneNumberClient } from "better-auth/client/plugins";

import { browser, listenOnLoopback, ok, refused, startGatehouse, waitFor } from "./harness.mjs";

/** A phoneNumberClient() with its own cookie jar (one phone). */
const device = (base) => browser(base, [phoneNumberClient()]).client;

const RELAY_SECRET = randomBytes(24).toString("hex");

/** An HTTP relay that accepts only correctly signed, fresh POSTs. */
function smsRelay() {
  const messages = [];
  const refused = [];
  const server = createHttpServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const ts = req.headers["x-gatehouse-timestamp"] ?? "";
      const sig = req.headers["x-gatehouse-signature"] ?? "";
      const expected = "sha256=" + createHmac("sha256", RELAY_SECRET).update(`${ts}.`).update(raw).digest("hex");
      const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
      const same = sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
      if (req.method !== "POST" || !fresh || !same) {
        refused.push({ ts, sig });
        res.writeHead(401).end();
        return;
      }
      messages.push(JSON.parse(raw.toString("utf8")));
      res.writeHead(204).end();
    });
  });
  return { server, messages, refused };
}

/** Gatehouse with the phone-number plugin, texting through the relay; stopped after `t`. */
async function serverWithRelay(t) {
  const relay = smsRelay();
  const relayPort = await listenOnLoopback(relay.server);
  t.after(async () => {
    relay.server.closeAllConnections?.();
    await new Promise((r) => relay.server.close(r));
  });
  const toml = [
    "[phone_number]",
    "[phone_number.sign_up_on_verification]",
    'temp_email_domain = "phone.example.com"',
    "[phone_number.sms]",
    `url = "http://127.0.0.1:${relayPort}/sms"`,
    `secret = "${RELAY_SECRET}"`,
    "",
  ].join("\n");
  const { url } = await startGatehouse(t, { name: "phone", plugins: "phone-number", toml });
  return { url, relay };
}

test("Better Auth phoneNumberClient: codes by signed relay, sign-up, update, reset, sign-in, attempts", async (t) => {
  const { url, relay } = await serverWithRelay(t);
  const suffix = String(randomBytes(3).readUIntBE(0, 3) % 100_000).padStart(5, "0");
  const number = `+4477001${suffix}`;
  const codeFor = async (to, n, kind) => {
    const m = await waitFor(() => relay.messages.filter((x) => x.to === to)[n - 1], `message #${n} to ${to}`);
    assert.equal(m.kind, kind);
    assert.match(m.code, /^\d{6}$/);
    return m.code;
  };

  // Sign-up by code: the client's phoneNumber.sendOtp / verify.
  const phone = device(url);
  refused(await phone.phoneNumber.sendOtp({ phoneNumber: "not a number" }), 400, "INVALID_PHONE_NUMBER");
  assert.deepEqual(ok(await phone.phoneNumber.sendOtp({ phoneNumber: number })), { message: "code sent" });
  let code = await codeFor(number, 1, "phone-verification");
  const verified = ok(await phone.phoneNumber.verify({ phoneNumber: number, code }));
  assert.equal(verified.status, true);
  assert.equal(typeof verified.token, "string");
  assert.equal(verified.user.phoneNumber, number);
  assert.equal(verified.user.phoneNumberVerified, true);
  assert.equal(verified.user.email, `${number.slice(1)}@phone.example.com`);
  const session = ok(await phone.getSession());
  assert.equal(session.user.phoneNumber, number);
  refused(await device(url).phoneNumber.verify({ phoneNumber: number, code }), 400, "OTP_NOT_FOUND");

  // update-user cannot set a number; it can clear it.
  refused(await phone.updateUser({ phoneNumber: "+447700100000" }), 400, "PHONE_NUMBER_CANNOT_BE_UPDATED");

  // Attempts: three wrong guesses, then even the right code is refused.
  const guesser = device(url);
  ok(await guesser.phoneNumber.sendOtp({ phoneNumber: number }));
  code = await codeFor(number, 2, "phone-verification");
  const wrong = code === "000000" ? "111111" : "000000";
  for (let i = 0; i < 3; i++) {
    refused(await guesser.phoneNumber.verify({ phoneNumber: number, code: wrong }), 400, "INVALID_OTP");
  }
  refused(await guesser.phoneNumber.verify({ phoneNumber: number, code }), 403, "TOO_MANY_ATTEMPTS");

  // Password reset by code, then sign-in by number and password.
  const password = "phone-number-test-pw";
  assert.deepEqual(ok(await guesser.phoneNumber.requestPasswordReset({ phoneNumber: number })), { status: true });
  const otp = await codeFor(number, 3, "password-reset");
  assert.deepEqual(ok(await guesser.phoneNumber.resetPassword({ phoneNumber: number, otp, newPassword: password })), {
    status: true,
  });
  assert.equal(ok(await phone.getSession()), null, "a reset ends every session");
  refused(await guesser.signIn.phoneNumber({ phoneNumber: number, password: "wrong-password-x" }), 401, "INVALID_PHONE_NUMBER_OR_PASSWORD");
  const signedIn = ok(await guesser.signIn.phoneNumber({ phoneNumber: number, password }));
  assert.deepEqual(Object.keys(signedIn).sort(), ["token", "user"]);
  assert.equal(signedIn.user.id, verified.user.id);
  assert.equal(ok(await guesser.getSession()).user.phoneNumber, number);

  // A second number for the signed-in user, with updatePhoneNumber.
  const second = `+4477000${suffix}`;
  ok(await guesser.phoneNumber.sendOtp({ phoneNumber: second }));
  const code2 = await codeFor(second, 1, "phone-verification");
  const updated = ok(await guesser.phoneNumber.verify({ phoneNumber: second, code: code2, updatePhoneNumber: true }));
  assert.equal(updated.user.id, verified.user.id);
  assert.equal(updated.user.phoneNumber, second);
  ok(await guesser.updateUser({ phoneNumber: null }));
  const cleared = ok(await guesser.getSession()).user;
  assert.equal(cleared.phoneNumber, null);
  assert.equal(cleared.phoneNumberVerified, false);

  assert.deepEqual(relay.refused, [], "every POST carried a valid signature");
});
