// The real `better-auth` npm client against a running Gatehouse server.
//
// Run through tests/node/run.sh, which starts the server and sets
// GATEHOUSE_URL (e.g. http://127.0.0.1:3123). The client runs in Node, so
// there is no browser cookie store: a small cookie jar below keeps what the
// server sets and sends it back, and every request carries the Origin header a
// browser would send.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { createAuthClient } from "better-auth/client";
import { usernameClient } from "better-auth/client/plugins";

import { CookieJar } from "./cookie-jar.mjs";

const BASE = process.env.GATEHOUSE_URL;
if (!BASE) {
  throw new Error("GATEHOUSE_URL is not set; run this suite through tests/node/run.sh");
}
const ORIGIN = new URL(BASE).origin;
const SESSION_COOKIE = "better-auth.session_token";

const jar = new CookieJar();

/** Every exchange, for assertions on the wire and for failure reports. */
const exchanges = [];

async function jarFetch(input, init = {}) {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const headers = new Headers(init.headers);
  const cookie = jar.header();
  if (cookie) headers.set("cookie", cookie);
  else headers.delete("cookie");
  headers.set("origin", ORIGIN);
  const res = await fetch(input, { ...init, headers });
  const setCookies = res.headers.getSetCookie();
  for (const sc of setCookies) jar.store(sc);
  exchanges.push({
    method: (init.method ?? "GET").toUpperCase(),
    path: url.pathname.replace(/^\/api\/auth/, ""),
    search: url.search,
    requestCookie: cookie,
    requestBody: typeof init.body === "string" ? init.body : undefined,
    status: res.status,
    setCookies,
    responseText: await res.clone().text(),
  });
  return res;
}

const client = createAuthClient({
  baseURL: BASE,
  plugins: [usernameClient()],
  fetchOptions: { customFetchImpl: jarFetch },
});

/** The last exchange, printable, for assertion messages. */
function lastExchange() {
  const x = exchanges.at(-1);
  return x ? JSON.stringify(x, null, 2) : "(no request made)";
}

/** Runs `fn` and returns the exchanges it caused. */
async function recording(fn) {
  const start = exchanges.length;
  const result = await fn();
  return { result, sent: exchanges.slice(start) };
}

function assertNoSessionCookies() {
  const left = jar.names().filter((n) => n.startsWith("better-auth.session"));
  assert.deepEqual(left, [], `session cookies left in the jar: ${left}`);
}

const suffix = randomBytes(5).toString("hex");
const user = {
  name: "Node Client",
  email: `Node.Client.${suffix}@Example.COM`,
  username: `node_${suffix}`,
  password: `pw-${randomBytes(9).toString("base64url")}`,
};
let signUpToken;

test("sign-up/email creates the user and signs in", async () => {
  const { data, error } = await client.signUp.email({
    name: user.name,
    email: user.email,
    password: user.password,
    username: user.username,
  });
  assert.equal(error, null, lastExchange());
  assert.equal(exchanges.at(-1).status, 200);
  assert.equal(data.user.email, user.email.toLowerCase());
  assert.equal(data.user.name, user.name);
  assert.equal(data.user.username, user.username.toLowerCase());
  assert.equal(typeof data.user.id, "string");
  assert.equal(data.user.emailVerified, false);
  assert.equal(typeof data.token, "string");
  assert.equal(data.token.length, 32, `token ${data.token}`);
  assert.ok(jar.has(SESSION_COOKIE), `jar: ${jar.names()}`);
  const stored = decodeURIComponent(jar.get(SESSION_COOKIE));
  assert.equal(stored.split(".")[0], data.token, "the cookie carries the returned token");
  signUpToken = data.token;
});

test("get-session returns the signed-up user and session", async () => {
  const { data, error } = await client.getSession();
  assert.equal(error, null, lastExchange());
  assert.ok(data, lastExchange());
  assert.equal(data.user.email, user.email.toLowerCase());
  assert.equal(data.user.username, user.username.toLowerCase());
  assert.equal(data.session.token, signUpToken);
  assert.equal(data.session.userId, data.user.id);
});

test("sign-out ends the session and clears the cookie", async () => {
  const { data, error } = await client.signOut();
  assert.equal(error, null, lastExchange());
  assert.equal(data.success, true);
  assert.ok(
    exchanges.at(-1).setCookies.some((c) => c.startsWith(`${SESSION_COOKIE}=`) && /max-age=0/i.test(c)),
    `sign-out should expire the session cookie: ${lastExchange()}`,
  );
  assertNoSessionCookies();

  const after = await client.getSession();
  assert.equal(after.error, null, lastExchange());
  assert.equal(after.data, null);
  assert.equal(exchanges.at(-1).responseText.trim(), "null");
});

test("sign-in/email signs in and the cookie round-trips exactly", async () => {
  const { data, error } = await client.signIn.email({ email: user.email, password: user.password });
  assert.equal(error, null, lastExchange());
  assert.equal(typeof data.token, "string");
  assert.equal(data.token.length, 32);
  assert.notEqual(data.token, signUpToken, "a new session");
  assert.equal(data.user.email, user.email.toLowerCase());

  // What the server set, exactly as sent.
  const set = exchanges.at(-1).setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  assert.ok(set, `sign-in set no session cookie: ${lastExchange()}`);
  const setValue = set.slice(SESSION_COOKIE.length + 1).split(";")[0];
  assert.match(setValue, /^[A-Za-z0-9]{32}\.[A-Za-z0-9%._~-]+$/, "token.signature, percent-encoded");
  const [token, sig] = decodeURIComponent(setValue).split(".");
  assert.equal(token, data.token);
  assert.match(sig, /^[A-Za-z0-9+/]{43}=$/, "base64 HMAC-SHA256");

  const { result, sent } = await recording(() => client.getSession());
  assert.equal(result.error, null, lastExchange());
  assert.equal(result.data.user.email, user.email.toLowerCase());
  assert.equal(result.data.session.token, data.token);
  const request = sent.find((x) => x.path === "/get-session");
  assert.ok(request, "getSession sent GET /get-session");
  const sentCookies = (request.requestCookie ?? "").split("; ");
  assert.ok(
    sentCookies.includes(`${SESSION_COOKIE}=${setValue}`),
    `Cookie header ${request.requestCookie} should contain ${SESSION_COOKIE}=${setValue}`,
  );
});

test("sign-in/email with a wrong password is rejected", async () => {
  const before = jar.get(SESSION_COOKIE);
  const { data, error } = await client.signIn.email({ email: user.email, password: `${user.password}-wrong` });
  assert.equal(data, null);
  assert.ok(error, lastExchange());
  assert.equal(error.status, 401, lastExchange());
  assert.equal(error.code, "INVALID_EMAIL_OR_PASSWORD", lastExchange());
  assert.equal(typeof error.message, "string");
  assert.equal(jar.get(SESSION_COOKIE), before, "a failed sign-in leaves the session alone");
});

test("sign-in/username works after sign-out", async () => {
  const out = await client.signOut();
  assert.equal(out.error, null, lastExchange());
  assert.equal(out.data.success, true);
  assertNoSessionCookies();

  const { data, error } = await client.signIn.username({ username: user.username, password: user.password });
  assert.equal(error, null, lastExchange());
  assert.equal(data.user.username, user.username.toLowerCase());
  assert.equal(data.user.email, user.email.toLowerCase());
  assert.equal(typeof data.token, "string");
  assert.ok(jar.has(SESSION_COOKIE), `jar: ${jar.names()}`);

  const session = await client.getSession();
  assert.equal(session.error, null, lastExchange());
  assert.equal(session.data.user.username, user.username.toLowerCase());
  assert.equal(session.data.session.token, data.token);

  const end = await client.signOut();
  assert.equal(end.error, null, lastExchange());
  assert.equal(end.data.success, true);
  assertNoSessionCookies();
  const gone = await client.getSession();
  assert.equal(gone.error, null, lastExchange());
  assert.equal(gone.data, null);
});

test("sign-up/email with a taken email is rejected", async () => {
  const { data, error } = await client.signUp.email({
    name: "Someone Else",
    email: user.email,
    password: user.password,
  });
  assert.equal(data, null);
  assert.ok(error, lastExchange());
  assert.equal(error.status, 422, lastExchange());
  assert.equal(error.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", lastExchange());
  assertNoSessionCookies();
});
