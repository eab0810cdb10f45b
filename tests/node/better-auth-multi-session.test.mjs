// Better Auth's own `multiSessionClient` and `anonymousClient` against
// Gatehouse: one browser (one cookie jar) signed in to two accounts,
// switching and revoking them, and a guest who signs up and keeps going as
// the new account.
//
// Run through tests/node/run.sh (its server has multi-session and anonymous).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { anonymousClient, multiSessionClient } from "better-auth/client/plugins";

import { browser, ok } from "./harness.mjs";

const BASE = process.env.GATEHOUSE_URL;
if (!BASE) throw new Error("run this suite through tests/node/run.sh");
const PASSWORD = "multi-session-password";

const device = () => browser(BASE, [multiSessionClient(), anonymousClient()]);

async function account(tag) {
  const email = `ba-multi-${tag}-${randomBytes(5).toString("hex")}@example.com`;
  ok(await device().client.signUp.email({ name: `Multi ${tag}`, email, password: PASSWORD }));
  return email;
}

test("multiSessionClient: two accounts in one browser", async () => {
  const [e1, e2] = [await account("one"), await account("two")];
  const b = device();
  const t1 = ok(await b.client.signIn.email({ email: e1, password: PASSWORD })).token;
  const t2 = ok(await b.client.signIn.email({ email: e2, password: PASSWORD })).token;
  assert.equal(ok(await b.client.getSession()).user.email, e2);

  const listed = ok(await b.client.multiSession.listDeviceSessions());
  assert.deepEqual(listed.map((e) => e.user.email).sort(), [e1, e2].sort());

  const switched = ok(await b.client.multiSession.setActive({ sessionToken: t1 }));
  assert.equal(switched.user.email, e1);
  assert.equal(ok(await b.client.getSession()).user.email, e1);

  const bad = await b.client.multiSession.setActive({ sessionToken: "not-a-token" });
  assert.equal(bad.error.status, 401);
  assert.equal(bad.error.code, "INVALID_SESSION_TOKEN");

  assert.deepEqual(ok(await b.client.multiSession.revoke({ sessionToken: t2 })), { status: true });
  assert.deepEqual(ok(await b.client.multiSession.listDeviceSessions()).map((e) => e.user.email), [e1]);

  ok(await b.client.signOut());
  assert.deepEqual(ok(await b.client.multiSession.listDeviceSessions()), []);
  assert.equal(ok(await b.client.getSession()), null);
});

test("anonymousClient: a guest signs up and becomes the new account", async () => {
  const g = device();
  const guest = ok(await g.client.signIn.anonymous());
  assert.equal(guest.user.isAnonymous, true);
  assert.ok(guest.user.email.endsWith("@anonymous.placeholder.invalid"));
  const again = await g.client.signIn.anonymous();
  assert.equal(again.error.code, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY");

  const email = `ba-guest-${randomBytes(5).toString("hex")}@example.com`;
  ok(await g.client.signUp.email({ name: "Former Guest", email, password: PASSWORD }));
  const now = ok(await g.client.getSession());
  assert.equal(now.user.email, email);
  assert.equal(now.user.isAnonymous, false);

  const h = device();
  ok(await h.client.signIn.anonymous());
  assert.deepEqual(ok(await h.client.deleteAnonymousUser()), { success: true });
  assert.equal(ok(await h.client.getSession()), null);
  const member = await g.client.deleteAnonymousUser();
  assert.equal(member.error.code, "USER_IS_NOT_ANONYMOUS");
});
