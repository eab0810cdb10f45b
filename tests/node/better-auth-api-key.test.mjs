// Better Auth's own `apiKeyClient` (@better-auth/api-key) against Gatehouse with the
// api-key plugin: create (with prefix, expiry and metadata), get, list with paging,
// update and delete through the client; the server-only properties refused; the
// key in `x-api-key` standing for its owner's session on get-session.
//
// The shared server of tests/node/run.sh does not enable api-key, so this suite
// starts its own (GATEHOUSE_BIN, a fresh SQLite file, its own configuration).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { createAuthClient } from "better-auth/client";
import { apiKeyClient } from "@better-auth/api-key/client";

import { CookieJar } from "./cookie-jar.mjs";

const BIN = process.env.GATEHOUSE_BIN;
if (!BIN) throw new Error("GATEHOUSE_BIN is not set; run this suite through tests/node/run.sh");

async function freePort() {
  const probe = createServer();
  const port = await new Promise((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => resolve(probe.address().port));
  });
  await new Promise((r) => probe.close(r));
  return port;
}

async function waitFor(fn, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Gatehouse with api-key (sessions from keys, metadata on); stopped after `t`. */
async function server(t) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-api-key-"));
  const config = join(dir, "gatehouse.toml");
  writeFileSync(config, "[api_key]\nenable_session_for_api_keys = true\nenable_metadata = true\n");
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, ["serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: `sqlite://${join(dir, "api-key.db")}`,
      GATEHOUSE_CONFIG: config,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_BASE_URL: url,
      GATEHOUSE_SECRET: randomBytes(24).toString("hex"),
      GATEHOUSE_PLUGINS: "api-key",
      GATEHOUSE_RATE_LIMIT: "off",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk) => {
    log = (log + chunk).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((r) => child.once("exit", r));
  t.after(async () => {
    child.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`gatehouse exited (${child.exitCode}):\n${log}`);
    return (await fetch(`${url}/api/auth/ok`).catch(() => null))?.ok;
  }, "GET /api/auth/ok");
  return { url, log: () => log };
}

/** A Better Auth client with apiKeyClient() and its own cookie jar (one browser). */
function device(base, extraHeaders = {}) {
  const jar = new CookieJar();
  const origin = new URL(base).origin;
  const customFetchImpl = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    headers.set("origin", origin);
    for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
    const res = await fetch(input, { ...init, headers });
    for (const sc of res.headers.getSetCookie()) jar.store(sc);
    return res;
  };
  return createAuthClient({ baseURL: base, plugins: [apiKeyClient()], fetchOptions: { customFetchImpl } });
}

const ok = (r) => {
  assert.equal(r.error, null, JSON.stringify(r.error));
  return r.data;
};

const refused = (r, status, code) => {
  assert.equal(r.data, null, `expected ${status} ${code}, got data ${JSON.stringify(r.data)}`);
  assert.equal(r.error?.status, status, JSON.stringify(r.error));
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  return r.error;
};

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
