// Several Gatehouse processes behind one (imaginary) load balancer, on the
// local PostgreSQL and Redis, with requests alternating between them:
// - four processes started at once on a fresh database all come up
//   (PostgreSQL, then SQLite): the migrations no longer race;
// - the rate limit is shared: the 4th wrong password across instances is a
//   429, with counters in Redis and in the database;
// - a sign-out, a password change and a ban on one instance end the session
//   on the others at once (the revocation broadcast: Redis pub/sub, and
//   PostgreSQL's NOTIFY when there is no Redis);
// - with Redis as secondary storage, one instance answers from the session
//   copy another left there, a sign-out deletes it, and a reset link issued
//   on one instance (kept in Redis, not the database) works once on another.
//
//   GATEHOUSE_BIN=target/debug/gatehouse node --test tests/multi/
//
// PostgreSQL: GATEHOUSE_MULTI_PG (default postgres://postgres@127.0.0.1:5432/test),
// used to create and drop a fresh database per case with `psql`. Redis:
// GATEHOUSE_MULTI_REDIS (default redis://127.0.0.1:6379/), with a fresh key prefix.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { freePort, startGatehouse } from "../node/harness.mjs";

const ADMIN_PG = process.env.GATEHOUSE_MULTI_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS = process.env.GATEHOUSE_MULTI_REDIS ?? "redis://127.0.0.1:6379/";
const PASSWORD = "multi-instance-pw-1";

/** A fresh PostgreSQL database, dropped after `t`; resolves with its URL. */
function freshDatabase(t) {
  const name = `gh_multi_${randomBytes(5).toString("hex")}`;
  execFileSync("psql", [ADMIN_PG, "-qAt", "-c", `CREATE DATABASE ${name}`]);
  t.after(() => {
    try {
      execFileSync("psql", [ADMIN_PG, "-qAt", "-c", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
    } catch {
      // Best effort: the database is throw-away.
    }
  });
  const url = new URL(ADMIN_PG);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * `n` instances sharing `db`, one secret and one public base URL (the first
 * instance's address, as behind a load balancer), all started at once; or,
 * `staggered`, the first alone (it migrates), then the others, so that a
 * case about something else does not depend on the concurrent start.
 */
async function instances(t, n, { db, toml = "", env = {}, plugins = "", staggered = false }) {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const base = `http://127.0.0.1:${ports[0]}`;
  const secret = randomBytes(24).toString("hex");
  const start = (port, i) =>
      startGatehouse(t, {
        name: `multi-${i}`,
        plugins,
        toml,
        port,
        env: {
          DATABASE_URL: db,
          GATEHOUSE_SECRET: secret,
          GATEHOUSE_BASE_URL: base,
          GATEHOUSE_RATE_LIMIT: "on",
          ...env,
        },
      });
  let started;
  if (staggered) {
    const first = await start(ports[0], 0);
    started = [first, ...(await Promise.all(ports.slice(1).map((p, i) => start(p, i + 1))))];
  } else {
    started = await Promise.all(ports.map(start));
  }
  return { base, urls: started.map((s) => s.url), logs: started.map((s) => s.log) };
}

/** A user agent with its own cookies, sending the public origin. */
function agent(base) {
  const cookies = new Map();
  const call = async (url, path, { method = "GET", body } = {}) => {
    const headers = { origin: base };
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${url}/api/auth${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired) cookies.delete(name);
      else cookies.set(name, pair.slice(at + 1));
    }
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON.
    }
    return { status: res.status, json, text };
  };
  return { call, cookies };
}

const email = () => `multi-${randomBytes(6).toString("hex")}@example.com`;

async function signUp(a, url, address = email()) {
  const r = await a.call(url, "/sign-up/email", { method: "POST", body: { name: "Multi", email: address, password: PASSWORD } });
  assert.equal(r.status, 200, r.text);
  return { address, user: r.json.user };
}

async function sessionOn(a, url) {
  const r = await a.call(url, "/get-session");
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test("four processes started at once on a fresh PostgreSQL database all come up and serve", async (t) => {
  const db = freshDatabase(t);
  const { base, urls } = await instances(t, 4, { db });
  for (const url of urls) {
    const r = await fetch(`${url}/api/auth/ready`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ready: true, database: "ok" });
  }
  // They share one schema: a user made on one signs in on another.
  const a = agent(base);
  const { address } = await signUp(a, urls[0]);
  const b = agent(base);
  const r = await b.call(urls[3], "/sign-in/email", { method: "POST", body: { email: address, password: PASSWORD } });
  assert.equal(r.status, 200, r.text);
});

test("four processes started at once on a fresh SQLite file all come up and serve", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-multi-sqlite-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { base, urls } = await instances(t, 4, { db: `sqlite://${join(dir, "shared.db")}` });
  for (const url of urls) {
    assert.equal((await fetch(`${url}/api/auth/ready`)).status, 200);
  }
  const a = agent(base);
  const { address } = await signUp(a, urls[1]);
  const r = await agent(base).call(urls[2], "/sign-in/email", { method: "POST", body: { email: address, password: PASSWORD } });
  assert.equal(r.status, 200, r.text);
});

/** Wrong passwords alternating between the instances: 3 refusals, then 429. */
async function sharedLimit(base, urls) {
  const a = agent(base);
  const { address } = await signUp(a, urls[0]);
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    const r = await agent(base).call(urls[i % urls.length], "/sign-in/email", {
      method: "POST",
      body: { email: address, password: "wrong-password-1" },
    });
    statuses.push(r.status);
    if (r.status === 429) assert.equal(r.json.code, "TOO_MANY_REQUESTS", r.text);
  }
  assert.deepEqual(statuses, [401, 401, 401, 429], "Better Auth's /sign-in rule: 3 per 10 s, across instances");
}

test("the rate limit is shared through Redis", async (t) => {
  const db = freshDatabase(t);
  const prefix = `ghtest-${randomBytes(4).toString("hex")}:`;
  const { base, urls } = await instances(t, 2, {
    db,
    staggered: true,
    env: { GATEHOUSE_REDIS_URL: REDIS },
    toml: `[secondary_storage]\nkey_prefix = "${prefix}"\n`,
  });
  const r = await fetch(`${urls[1]}/api/auth/ready`);
  assert.deepEqual(await r.json(), { ready: true, database: "ok", secondaryStorage: "ok" });
  await sharedLimit(base, urls);
  // The refusal shows in the refusing instance's metrics.
  const m = await (await fetch(`${urls[1]}/metrics`)).text();
  assert.match(m, /^gatehouse_rate_limit_rejections_total [1-9]/m, m);
  assert.match(m, /^gatehouse_http_requests_total\{method="POST",route="\/sign-in\/email",status="429"\} 1$/m, m);
  assert.match(m, /^gatehouse_http_request_duration_seconds_bucket\{.*route="\/sign-in\/email".*\} \d+$/m);
  assert.match(m, /^gatehouse_password_hash_queue_depth 0$/m);
});

test("the rate limit is shared through the database", async (t) => {
  const db = freshDatabase(t);
  const { base, urls } = await instances(t, 3, {
    db,
    staggered: true,
    env: { GATEHOUSE_RATE_LIMIT_STORAGE: "database" },
  });
  await sharedLimit(base, urls);
});

/**
 * Sign-out, password change and ban on one instance end the session on the
 * others at once, though each keeps sessions cached for 5 s.
 */
async function revocations(base, urls) {
  const [A, B] = urls;
  // Sign-out on A.
  const alice = agent(base);
  await signUp(alice, A);
  assert.ok((await sessionOn(alice, B))?.session, "B resolves (and caches) the session");
  assert.ok((await sessionOn(alice, B))?.session);
  const cookie = new Map(alice.cookies);
  const out = await alice.call(A, "/sign-out", { method: "POST", body: {} });
  assert.equal(out.status, 200, out.text);
  const replay = agent(base);
  for (const [k, v] of cookie) replay.cookies.set(k, v);
  assert.equal(await sessionOn(replay, B), null, "signed out on A: no session on B");

  // A password change on A that revokes the other sessions.
  const bob = agent(base);
  const { address } = await signUp(bob, A);
  const phone = agent(base);
  const signIn = await phone.call(B, "/sign-in/email", { method: "POST", body: { email: address, password: PASSWORD } });
  assert.equal(signIn.status, 200, signIn.text);
  assert.ok((await sessionOn(phone, B))?.session);
  const changed = await bob.call(A, "/change-password", {
    method: "POST",
    body: { currentPassword: PASSWORD, newPassword: "multi-instance-pw-2", revokeOtherSessions: true },
  });
  assert.equal(changed.status, 200, changed.text);
  assert.equal(await sessionOn(phone, B), null, "password changed on A: the other session is gone on B");

  // A ban on A (every new user is an admin on these instances).
  const admin = agent(base);
  await signUp(admin, A);
  const carol = agent(base);
  const { user } = await signUp(carol, B);
  assert.ok((await sessionOn(carol, B))?.session);
  const ban = await admin.call(A, "/admin/ban-user", { method: "POST", body: { userId: user.id } });
  assert.equal(ban.status, 200, ban.text);
  assert.equal(await sessionOn(carol, B), null, "banned on A: no session on B");
}

test("revocations reach every instance at once through Redis pub/sub", async (t) => {
  const db = freshDatabase(t);
  const prefix = `ghtest-${randomBytes(4).toString("hex")}:`;
  const { base, urls } = await instances(t, 2, {
    db,
    staggered: true,
    plugins: "admin",
    env: { GATEHOUSE_REDIS_URL: REDIS, GATEHOUSE_RATE_LIMIT: "off" },
    toml: `[secondary_storage]\nkey_prefix = "${prefix}"\n\n[admin]\ndefault_role = "admin"\n`,
  });
  await revocations(base, urls);
});

test("revocations reach every instance at once through PostgreSQL NOTIFY", async (t) => {
  const db = freshDatabase(t);
  const { base, urls } = await instances(t, 2, {
    db,
    staggered: true,
    plugins: "admin",
    env: { GATEHOUSE_RATE_LIMIT: "off" },
    toml: `[admin]\ndefault_role = "admin"\n`,
  });
  await revocations(base, urls);
});

test("with the session cookie cache on: a sign-in on A works on B, and revocations still reach B at once", async (t) => {
  const db = freshDatabase(t);
  const prefix = `ghtest-${randomBytes(4).toString("hex")}:`;
  const { base, urls } = await instances(t, 2, {
    db,
    staggered: true,
    plugins: "admin",
    env: { GATEHOUSE_REDIS_URL: REDIS, GATEHOUSE_RATE_LIMIT: "off" },
    toml: `[secondary_storage]\nkey_prefix = "${prefix}"\n\n[session.cookie_cache]\nenabled = true\nstrategy = "jwe"\n\n[admin]\ndefault_role = "admin"\n`,
  });
  const a = agent(base);
  const { user } = await signUp(a, urls[0]);
  assert.equal((await sessionOn(a, urls[1])).user.id, user.id);
  assert.ok(a.cookies.has("better-auth.session_data"), "B handed out a copy");
  assert.equal((await sessionOn(a, urls[0])).user.id, user.id, "A reads B's copy");
  await revocations(base, urls);
});

/** Keys under `pattern` in the test Redis. */
function redisKeys(pattern) {
  const out = execFileSync("redis-cli", ["-u", REDIS, "--scan", "--pattern", pattern], { encoding: "utf8" });
  return out.split("\n").filter(Boolean);
}

function psql(db, sql) {
  return execFileSync("psql", [db, "-qAt", "-c", sql], { encoding: "utf8" }).trim();
}

test("with Redis as secondary storage, sessions and one-time values live there, shared by the instances", async (t) => {
  const db = freshDatabase(t);
  const prefix = `ghtest-${randomBytes(4).toString("hex")}:`;
  const { base, urls, logs } = await instances(t, 2, {
    db,
    staggered: true,
    // info: the development mailer logs the reset link.
    env: { GATEHOUSE_REDIS_URL: REDIS, GATEHOUSE_RATE_LIMIT: "off", RUST_LOG: "info" },
    toml: `[secondary_storage]\nkey_prefix = "${prefix}"\n`,
  });
  const [A, B] = urls;

  // A session A read from the database is in Redis, and B answers from there:
  // the database row is gone (deleted behind the servers' back), B never saw
  // the session, yet it resolves it within session.cache_ttl of A's read.
  const alice = agent(base);
  const { user } = await signUp(alice, A);
  assert.equal((await sessionOn(alice, A)).user.id, user.id);
  assert.equal(redisKeys(`${prefix}session:*`).length, 1);
  psql(db, `DELETE FROM "session"`);
  assert.equal((await sessionOn(alice, B)).user.id, user.id, "B read the copy in Redis");
  // A sign-out deletes the copy before it answers: gone on every instance.
  const cookie = new Map(alice.cookies);
  const out = await alice.call(B, "/sign-out", { method: "POST", body: {} });
  assert.equal(out.status, 200, out.text);
  assert.deepEqual(redisKeys(`${prefix}session:*`), []);
  const replay = agent(base);
  for (const [k, v] of cookie) replay.cookies.set(k, v);
  assert.equal(await sessionOn(replay, A), null, "signed out on B: no session on A");

  // One-time values: a reset link asked for on A is in Redis (not in the
  // database) and is used on B, once.
  const bob = agent(base);
  const { address } = await signUp(bob, A);
  const asked = await bob.call(A, "/request-password-reset", { method: "POST", body: { email: address, redirectTo: "/reset" } });
  assert.equal(asked.status, 200, asked.text);
  assert.equal(psql(db, `SELECT count(*) FROM "verification"`), "0");
  assert.ok(redisKeys(`${prefix}verification:*`).length >= 1, "the reset token is in Redis");
  let token;
  for (let i = 0; i < 50 && !token; i++) {
    token = logs[0]().match(/reset-password\/([A-Za-z0-9_-]+)/)?.[1];
    if (!token) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(token, "the development mailer logged the link");
  const reset = await agent(base).call(B, "/reset-password", { method: "POST", body: { token, newPassword: "multi-instance-pw-3" } });
  assert.equal(reset.status, 200, reset.text);
  const again = await agent(base).call(A, "/reset-password", { method: "POST", body: { token, newPassword: "multi-instance-pw-4" } });
  assert.equal(again.status, 400, again.text);
  assert.equal(again.json.code, "INVALID_TOKEN");
  const signIn = await agent(base).call(A, "/sign-in/email", { method: "POST", body: { email: address, password: "multi-instance-pw-3" } });
  assert.equal(signIn.status, 200, signIn.text);
});

test("a process drains its requests in flight on SIGTERM", async (t) => {
  // Covered by the server loop's own test in Rust; here: the process exits
  // cleanly (status 0) on SIGTERM.
  const db = freshDatabase(t);
  const port = await freePort();
  const { spawn } = await import("node:child_process");
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-multi-term-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.env.GATEHOUSE_BIN, ["serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: db,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_SECRET: randomBytes(24).toString("hex"),
      RUST_LOG: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (c) => (log += c));
  child.stderr.on("data", (c) => (log += c));
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/api/auth/ok`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGTERM");
  const { code } = await exited;
  assert.equal(code, 0, log);
  assert.match(log, /draining/);
});
