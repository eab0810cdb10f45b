// @gatehouse/client against a live server (started by tests/node/run.sh with
// the username and bearer plugins; GATEHOUSE_URL points at it).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import gatehouse from "../index.js";

const { createAuthClient, usernameClient } = gatehouse;
const BASE = process.env.GATEHOUSE_URL;
const PASSWORD = "node-binding-password-1";
const rand = () => randomBytes(6).toString("hex");

test("cross-language scenario: sign-up, sign-in, session, username, sign-out, errors", async () => {
  const client = createAuthClient({ baseURL: BASE, plugins: [usernameClient()] });
  const email = `node-${rand()}@example.com`;
  const username = `n_${rand()}`;

  const up = await client.signUp.email({ name: "Node", email: email.toUpperCase(), password: PASSWORD, username });
  assert.equal(up.error, null);
  assert.equal(up.data.user.email, email);
  assert.equal(up.data.user.username, username);
  assert.equal(up.data.token.length, 32);

  const s1 = await client.getSession();
  assert.equal(s1.error, null);
  assert.equal(s1.data.session.token, up.data.token);

  assert.deepEqual((await client.signOut()).data, { success: true });
  assert.equal((await client.getSession()).data, null);
  assert.equal(await client.sessionToken(), null);

  const byEmail = await client.signIn.email({ email, password: PASSWORD });
  assert.equal(byEmail.error, null);
  assert.equal((await client.getSession()).data.user.email, email);
  await client.signOut();

  const byName = await client.signIn.username({ username: username.toUpperCase(), password: PASSWORD });
  assert.equal(byName.error, null);
  assert.equal((await client.getSession()).data.user.username, username);
  assert.deepEqual((await client.isUsernameAvailable({ username })).data, { available: false });
  await client.signOut();

  const wrong = await client.signIn.email({ email, password: "not-the-password" });
  assert.equal(wrong.data, null);
  assert.equal(wrong.error.code, "INVALID_EMAIL_OR_PASSWORD");
  assert.equal(wrong.error.status, 401);
  assert.equal(wrong.error.message, "Invalid email or password");

  const dup = await client.signUp.email({ name: "Node", email, password: PASSWORD });
  assert.equal(dup.error.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
  assert.equal(dup.error.status, 422);
});

test("plugin namespaces exist only when registered", () => {
  const plain = createAuthClient({ baseURL: BASE });
  assert.equal(plain.signIn.username, undefined);
  assert.equal(plain.isUsernameAvailable, undefined);
  assert.equal(typeof createAuthClient({ baseURL: BASE, plugins: [usernameClient()] }).signIn.username, "function");
});

async function freePort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The shared server without username (cross-language run), or one started here. */
async function serverWithoutUsername(t) {
  if (process.env.GATEHOUSE_URL_NO_USERNAME) return process.env.GATEHOUSE_URL_NO_USERNAME;
  const bin = process.env.GATEHOUSE_BIN;
  assert.ok(bin, "GATEHOUSE_BIN is set by run.sh");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-mirror-"));
  const server = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: `sqlite://${join(dir, "m.db")}`,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_SECRET: randomBytes(24).toString("hex"),
      GATEHOUSE_RATE_LIMIT: "off",
      RUST_LOG: "warn",
    },
    stdio: "ignore",
  });
  t.after(() => server.kill());
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/api/auth/ok`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return url;
}

test("a server without username: every call fails with PLUGIN_NOT_ENABLED", async (t) => {
  const url = await serverWithoutUsername(t);
  const plugins = await (await fetch(`${url}/api/auth/plugins`)).json();
  assert.ok(!plugins.plugins.some((p) => p.id === "username"));

  const client = createAuthClient({ baseURL: url, plugins: [usernameClient()] });
  for (const r of [await client.signIn.username({ username: "someone", password: PASSWORD }), await client.getSession()]) {
    assert.equal(r.data, null);
    assert.equal(r.error.code, "PLUGIN_NOT_ENABLED");
    assert.match(r.error.message, /username/);
  }
  // Matching registration works against the same server.
  const ok = createAuthClient({ baseURL: url });
  const up = await ok.signUp.email({ name: "M", email: `m-${rand()}@example.com`, password: PASSWORD });
  assert.equal(up.error, null);
  assert.ok((await ok.getSession()).data.session);
});
