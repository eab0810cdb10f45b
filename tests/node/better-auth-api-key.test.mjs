// Better Auth's own `apiKeyClient` (@better-auth/api-key) against Gatehouse with the
// api-key plugin: create (with prefix, expiry and metadata), get, list with paging,
// update and delete through the client; the server-only properties refused; the
// key in `x-api-key` standing for its owner's session on get-session.
//
// The shared server of tests/node/run.sh does not enable api-key, so this suite
// starts its own (GATEHOUSE_BIN, a fresh SQLite file, its own configuration).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { apiKeyClient } from "@better-auth/api-key/client";

import { browser, ok, refused, startGatehouse } from "./harness.mjs";

/** Gatehouse with api-key (sessions from keys, metadata on); stopped after `t`. */
const server = (t) =>
  startGatehouse(t, {
    name: "api-key",
    plugins: "api-key",
    toml: "[api_key]\nenable_session_for_api_keys = true\nenable_metadata = true\n",
  });

/** An apiKeyClient() browser sending `headers` (e.g. x-api-key). */
const device = (base, headers = {}) => browser(base, [apiKeyClient()], headers).client;

test("Better Auth apiKeyClient: create, get, list, update, delete, x-api-key sessions", async (t) => {
  const { url } = await server(t);
  const base = `${url}/api/auth`;
  const tag = randomBytes(4).toString("hex");
  const client = device(base);
  const me = ok(
    await client.signUp.email({ name: "Key Owner", email: `ba-key-${tag}@example.com`, password: "api-key-test-pw" }),
  ).user;
  let first;

  await t.test("1. create with prefix, expiry and metadata; the key is shown once", async () => {
    first = ok(await client.apiKey.create({ name: "ci", prefix: "gh_", expiresIn: 7 * 86400, metadata: { env: "ci" } }));
    assert.match(first.key, /^gh_[A-Za-z]{64}$/);
    assert.equal(first.start, first.key.slice(0, 6));
    assert.equal(first.referenceId, me.id);
    assert.equal(first.configId, "default");
    assert.deepEqual(first.metadata, { env: "ci" });
    assert.equal(first.remaining, null);
    assert.equal(first.rateLimitMax, 10);
    const days = (new Date(first.expiresAt).getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `expiresAt ${first.expiresAt}`);
    ok(await client.apiKey.create({ name: "second" }));
  });

  await t.test("2. the server-only properties are refused", async () => {
    refused(await client.apiKey.create({ name: "x", remaining: 100 }), 400, "SERVER_ONLY_PROPERTY");
    refused(await client.apiKey.create({ name: "x", permissions: { a: ["b"] } }), 400, "SERVER_ONLY_PROPERTY");
    refused(await client.apiKey.create({ name: "x", userId: "someone-else" }), 401, "UNAUTHORIZED_SESSION");
    refused(await client.apiKey.update({ keyId: first.id, rateLimitMax: 1000 }), 400, "SERVER_ONLY_PROPERTY");
    refused(await client.apiKey.create({ name: "x", expiresIn: 60 }), 400, "EXPIRES_IN_IS_TOO_SMALL");
  });

  await t.test("3. get and list never show the key", async () => {
    const got = ok(await client.apiKey.get({ query: { id: first.id } }));
    assert.equal(got.id, first.id);
    assert.equal(got.key, undefined);
    assert.deepEqual(got.metadata, { env: "ci" });
    const all = ok(await client.apiKey.list());
    assert.equal(all.total, 2);
    assert.ok(all.apiKeys.every((k) => k.key === undefined));
    const page = ok(await client.apiKey.list({ query: { limit: 1, offset: 0, sortBy: "name", sortDirection: "asc" } }));
    assert.equal(page.total, 2);
    assert.equal(page.limit, 1);
    assert.deepEqual(page.apiKeys.map((k) => k.name), ["ci"]);
  });

  await t.test("4. x-api-key stands for the owner's session", async () => {
    const bot = device(base, { "x-api-key": first.key });
    const s = ok(await bot.getSession());
    assert.equal(s.user.id, me.id);
    assert.equal(s.session.id, first.id);
    assert.equal(s.session.token, first.key);
    refused(await device(base, { "x-api-key": "short" }).getSession(), 403, "INVALID_API_KEY");
    const listed = ok(await bot.apiKey.list());
    assert.equal(listed.total, 2);
  });

  await t.test("5. update, then delete", async () => {
    const up = ok(await client.apiKey.update({ keyId: first.id, name: "renamed", enabled: false }));
    assert.equal(up.name, "renamed");
    assert.equal(up.enabled, false);
    refused(await device(base, { "x-api-key": first.key }).getSession(), 401, "KEY_DISABLED");
    assert.deepEqual(ok(await client.apiKey.delete({ keyId: first.id })), { success: true });
    refused(await client.apiKey.get({ query: { id: first.id } }), 404, "KEY_NOT_FOUND");
    refused(await device(base, { "x-api-key": first.key }).getSession(), 401, "INVALID_API_KEY");
  });
});
