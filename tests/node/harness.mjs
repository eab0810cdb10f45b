// What the self-starting Node suites share: a Gatehouse of their own
// (GATEHOUSE_BIN, a fresh SQLite file, their plugins and TOML), loopback
// ports, polling, a Better Auth client with its own cookie jar, and the
// `{data, error}` assertions.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createAuthClient } from "better-auth/client";

import { CookieJar } from "./cookie-jar.mjs";

/** Listens on an ephemeral loopback port; resolves with the port. */
export async function listenOnLoopback(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

export async function freePort() {
  const probe = createServer();
  const port = await listenOnLoopback(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

/** Polls `fn` until it returns something truthy (or throws), up to `ms`. */
export async function waitFor(fn, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts Gatehouse with `plugins` (comma-separated ids), `toml` as its
 * configuration file and `env` on top (on `port` when given, e.g. one already
 * registered elsewhere); stops it after the test `t`.
 * Resolves with `{ url, log }` once GET /api/auth/ok answers.
 */
export async function startGatehouse(t, { name, plugins, toml = "", env = {}, port: chosen }) {
  const bin = process.env.GATEHOUSE_BIN;
  if (!bin) throw new Error("GATEHOUSE_BIN is not set; run this suite through tests/node/run.sh");
  const port = chosen ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${name}-`));
  const config = join(dir, "gatehouse.toml");
  writeFileSync(config, toml);
  const url = `http://127.0.0.1:${port}`;
  const childEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: `sqlite://${join(dir, `${name}.db`)}`,
    GATEHOUSE_CONFIG: config,
    GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
    GATEHOUSE_BASE_URL: url,
    GATEHOUSE_SECRET: randomBytes(24).toString("hex"),
    GATEHOUSE_PLUGINS: plugins,
    GATEHOUSE_RATE_LIMIT: "off",
    RUST_LOG: "warn",
    ...env,
  };
  const child = spawn(bin, ["serve"], {
    cwd: dir,
    env: childEnv,
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
  // `env` runs other commands of the binary on the same configuration and database.
  return { url, log: () => log, env: childEnv };
}

/**
 * A Better Auth client with `plugins` and its own cookie jar (one browser),
 * sending the base URL's Origin and `headers` on every request.
 */
export function browser(baseURL, plugins, headers = {}) {
  const jar = new CookieJar();
  const origin = new URL(baseURL).origin;
  const customFetchImpl = async (input, init = {}) => {
    const h = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) h.set("cookie", cookie);
    h.set("origin", origin);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    const res = await fetch(input, { ...init, headers: h });
    for (const sc of res.headers.getSetCookie()) jar.store(sc);
    return res;
  };
  return { client: createAuthClient({ baseURL, plugins, fetchOptions: { customFetchImpl } }), jar };
}

/** The data of a successful call. */
export const ok = (r) => {
  assert.equal(r.error, null, JSON.stringify(r.error));
  return r.data;
};

/** A refused call's error, checked for its status and code. */
export const refused = (r, status, code) => {
  assert.equal(r.data, null, `expected ${status} ${code}, got data ${JSON.stringify(r.data)}`);
  assert.equal(r.error?.status, status, JSON.stringify(r.error));
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  return r.error;
};
