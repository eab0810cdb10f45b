// Better Auth's own `adminClient` against Gatehouse: the bootstrap operator
// (GATEHOUSE_ADMIN_EMAIL/_PASSWORD, set by run.sh) creates, lists, bans,
// impersonates and removes users; a plain user is refused with the codes the
// client's $ERROR_CODES know.
//
// Run through tests/node/run.sh (its server has the admin plugin).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { createAuthClient } from "better-auth/client";
import { adminClient } from "better-auth/client/plugins";

import { CookieJar } from "./cookie-jar.mjs";

const BASE = process.env.GATEHOUSE_URL;
const ADMIN_EMAIL = process.env.GATEHOUSE_ADMIN_EMAIL;
const ADMIN_PASSWORD = process.env.GATEHOUSE_ADMIN_PASSWORD;
if (!BASE || !ADMIN_EMAIL) throw new Error("run this suite through tests/node/run.sh");
const ORIGIN = new URL(BASE).origin;

function device() {
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
  const client = createAuthClient({ baseURL: BASE, plugins: [adminClient()], fetchOptions: { customFetchImpl } });
  return { client, jar };
}

const ok = (r) => {
  assert.equal(r.error, null, JSON.stringify(r.error));
  return r.data;
};

test("Better Auth adminClient: operator manages users end to end", async () => {
  const op = device();
  ok(await op.client.signIn.email({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }));
  const me = ok(await op.client.getSession()).user;
  assert.equal(me.role, "admin");
  assert.equal(me.emailVerified, true);

  const email = `ba-admin-${randomBytes(5).toString("hex")}@example.com`;
  const password = "admin-made-password";
  const made = ok(await op.client.admin.createUser({ email, password, name: "Made By Admin", role: "user" })).user;
  assert.equal(made.email, email);
  assert.equal(made.role, "user");

  const listed = ok(await op.client.admin.listUsers({ query: { searchValue: email, searchField: "email" } }));
  assert.equal(listed.total, 1);
  assert.equal(listed.users[0].id, made.id);

  const user = device();
  ok(await user.client.signIn.email({ email, password }));
  // A plain user is refused with the route's code.
  const denied = await user.client.admin.listUsers({ query: {} });
  assert.equal(denied.error.status, 403);
  assert.equal(denied.error.code, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS");

  // Impersonation: the operator's client becomes the user, then returns.
  const imp = ok(await op.client.admin.impersonateUser({ userId: made.id }));
  assert.equal(imp.session.impersonatedBy, me.id);
  assert.equal(ok(await op.client.getSession()).user.id, made.id);
  ok(await op.client.admin.stopImpersonating());
  assert.equal(ok(await op.client.getSession()).user.id, me.id);

  // A ban ends the user's session now and refuses the next sign-in.
  const banned = ok(await op.client.admin.banUser({ userId: made.id, banReason: "testing" })).user;
  assert.equal(banned.banned, true);
  assert.equal((await user.client.getSession()).data, null);
  const refused = await user.client.signIn.email({ email, password });
  assert.equal(refused.error.status, 403);
  assert.equal(refused.error.code, "BANNED_USER");
  ok(await op.client.admin.unbanUser({ userId: made.id }));
  ok(await user.client.signIn.email({ email, password }));

  const perm = ok(await op.client.admin.hasPermission({ permissions: { user: ["ban"] } }));
  assert.deepEqual(perm, { error: null, success: true });
  ok(await op.client.admin.removeUser({ userId: made.id }));
  const gone = await op.client.admin.getUser({ query: { id: made.id } });
  assert.equal(gone.error.code, "USER_NOT_FOUND");
});
