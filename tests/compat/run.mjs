// Differential wire test: every scenario runs, with Better Auth's own client,
// against the pinned better-auth reference server and against Gatehouse; the
// normalised results and transport traces are diffed.
//
//   node tests/compat/run.mjs <gatehouse-binary> [--only <scenario-prefix>] [--seed <s>]
//                             [--report <file.json>] [--verbose]
//
// Exit status: 0 no differences outside allowlist.json; 1 differences; 2 the
// harness itself failed (a server did not start, ...).

import { execFile, spawn } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { generate as totpGenerate } from "otplib";

import { diff, normalise, pathAndQuery } from "./lib/normalise.mjs";
import { makeActor } from "./lib/actor.mjs";
import { MailSink, codeIn, linkIn } from "./lib/sink.mjs";
import { CookieJar } from "../node/cookie-jar.mjs";
import { SmsSink } from "./lib/sms.mjs";
import { scenarios } from "./scenarios.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const t0 = Date.now();

// ------------------------------------------------------------------ arguments
const argv = process.argv.slice(2);
const opt = { only: [], seed: "compat1", report: null, verbose: false, keep: false };
let bin = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--only") opt.only.push(argv[++i]);
  else if (a === "--seed") opt.seed = argv[++i];
  else if (a === "--report") opt.report = argv[++i];
  else if (a === "--verbose" || a === "-v") opt.verbose = true;
  else if (a === "--keep") opt.keep = true;
  else if (!bin) bin = a;
  else fail(`unexpected argument ${a}`);
}
if (!bin) fail("usage: node run.mjs <gatehouse-binary> [--only prefix] [--seed s] [--report file] [--verbose]");
bin = path.resolve(bin);
if (!existsSync(bin)) fail(`gatehouse binary not found: ${bin}`);

function fail(msg) {
  console.error(`compat: ${msg}`);
  process.exit(2);
}

// ------------------------------------------------------------------ helpers
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForOk(url, child, logFile, what) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${what} exited (${child.exitCode}) before answering; log:\n${readFileSync(logFile, "utf8").slice(-4000)}`);
    }
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within 60 s; log:\n${readFileSync(logFile, "utf8").slice(-4000)}`);
}

function hs256(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${head}.${createHmac("sha256", Buffer.from(secret, "utf8")).update(head).digest("base64url")}`;
}

// ------------------------------------------------------------------ start-up
const tmp = mkdtempSync(path.join(os.tmpdir(), "gatehouse-compat-"));
const secret = randomBytes(24).toString("hex"); // 48 chars, both servers
const children = [];
let sink;
let sms;
// Gatehouse signs its text-message posts with this; the relay checks them.
const smsSecret = randomBytes(24).toString("hex");

async function cleanup() {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill("SIGTERM");
      for (let i = 0; i < 30 && c.exitCode === null; i++) await sleep(100);
      if (c.exitCode === null) c.kill("SIGKILL");
    }
  }
  if (sink) await sink.stop().catch(() => {});
  if (sms) await sms.stop().catch(() => {});
  if (!opt.keep) rmSync(tmp, { recursive: true, force: true });
}
process.on("SIGINT", async () => {
  await cleanup();
  process.exit(130);
});

// Two pairs of servers share the SMTP sink: "default" (Gatehouse's defaults)
// and "short", whose freshness and link/code lifetimes are 2 s, for the time/
// scenarios (a scenario picks it with `{ servers: "short" }`).
const SHORT_SECS = 2;

// The operator account both servers create at start (the admin scenarios sign in with it).
const ADMIN_EMAIL = "operator@compat.example";
const ADMIN_PASSWORD = "operator-password-1";

// The identity providers of tests/providers: an OpenID provider (behind
// generic OAuth as "local-oidc") and a GitHub-shaped server (the built-in
// "github"), configured on the default pair only.
const providersDir = path.join(here, "..", "providers");
const OIDC_SECRET = "local-oidc-secret";
/** Where the scenarios' native apps receive codes (registered at the OP). */
const NATIVE_REDIRECT = "http://127.0.0.1:9/native";
let idp;

async function startProvider(script, port, env = {}) {
  const log = path.join(tmp, `${script}.log`);
  const child = spawn(process.execPath, [path.join(providersDir, script), String(port)], {
    cwd: providersDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? tmp, ...env },
    stdio: ["ignore", "pipe", openSync(log, "a")],
  });
  children.push(child);
  await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("READY ")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}); log:\n${readFileSync(log, "utf8").slice(-2000)}`)));
  });
  return `http://127.0.0.1:${port}`;
}

async function startProviders(callbackBases) {
  const [opPort, ghPort] = [await freePort(), await freePort()];
  const client = {
    client_id: "local-oidc",
    client_secret: OIDC_SECRET,
    redirect_uris: [...callbackBases.map((b) => `${b}/api/auth/callback/local-oidc`), NATIVE_REDIRECT],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  };
  const [op, github] = await Promise.all([
    startProvider("op.mjs", opPort, { OP_CLIENTS: JSON.stringify([client]) }),
    startProvider("ghmock.mjs", ghPort),
  ]);
  return { op, github };
}

async function startPair(pair, [refPort, ghPort]) {
  const short = pair === "short";
  const suffix = short ? "-short" : "";
  const ref = {
    name: "reference",
    pair,
    baseURL: `http://localhost:${refPort}`,
    mailFrom: `reference${suffix}@compat.test`,
    smsPath: `/reference${suffix}`,
  };
  const gh = {
    name: "gatehouse",
    pair,
    baseURL: `http://localhost:${ghPort}`,
    mailFrom: `gatehouse${suffix}@compat.test`,
    smsPath: `/gatehouse${suffix}`,
  };

  const refLog = path.join(tmp, `reference${suffix}.log`);
  const refChild = spawn(process.execPath, [path.join(here, "reference-server.mjs")], {
    cwd: tmp,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? tmp,
      BETTER_AUTH_TELEMETRY: "0",
      REF_PORT: String(refPort),
      REF_BASE_URL: ref.baseURL,
      REF_DB: path.join(tmp, `reference${suffix}.db`),
      REF_SECRET: secret,
      REF_SMTP_PORT: String(sink.port),
      REF_MAIL_FROM: ref.mailFrom,
      REF_SMS_URL: sms.url(ref.smsPath),
      REF_APP_NAME: "Gatehouse",
      ...(short
        ? {}
        : {
            REF_OIDC_DISCOVERY: `${idp.op}/.well-known/openid-configuration`,
            REF_OIDC_SECRET: OIDC_SECRET,
            REF_GITHUB_URL: idp.github,
          }),
      REF_ADMIN_EMAIL: ADMIN_EMAIL,
      REF_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ...(short ? { REF_SHORT_SECS: String(SHORT_SECS) } : {}),
    },
    stdio: ["ignore", openSync(refLog, "a"), openSync(refLog, "a")],
  });
  children.push(refChild);

  // Options Gatehouse only takes from a file; the rest are its defaults.
  // Both servers listen on 127.0.0.1 but are addressed as http://localhost:<port>:
  // a passkey relying party must be a domain (Gatehouse refuses an IP address).
  const toml = path.join(tmp, `gatehouse${suffix}.toml`);
  writeFileSync(
    toml,
    [
      'app_name = "Gatehouse"',
      "[user]",
      "delete_enabled = true",
      "delete_email_confirmation = true",
      "change_email_enabled = true",
      // Alike on the reference: organization({ teams, dynamicAccessControl }).
      "[organization]",
      "teams = true",
      "dynamic_access_control = true",
      // Alike on the reference: oauthProvider({ loginPage, consentPage,
      // allowDynamicClientRegistration }); the other options are both sides' defaults.
      "[oauth_provider]",
      'login_page = "/sign-in"',
      'consent_page = "/consent"',
      "allow_dynamic_client_registration = true",
      // Alike on the reference: apiKey({ enableSessionForAPIKeys, enableMetadata }).
      "[api_key]",
      "enable_session_for_api_keys = true",
      "enable_metadata = true",
      // The relying party, set explicitly and alike on the reference.
      "[passkey]",
      'rp_id = "localhost"',
      'rp_name = "Gatehouse"',
      `origin = "${new URL(gh.baseURL).origin}"`,
      // Alike on the reference: phoneNumber({ sendOTP, signUpOnVerification }).
      "[phone_number.sign_up_on_verification]",
      'temp_email_domain = "phone.example.com"',
      "[phone_number.sms]",
      `url = "${sms.url(gh.smsPath)}"`,
      `secret = "${smsSecret}"`,
      // Alike on the reference: genericOAuth "local-oidc" and socialProviders.github.
      ...(short
        ? []
        : [
            "[generic_oauth.local-oidc]",
            'client_id = "local-oidc"',
            `client_secret = "${OIDC_SECRET}"`,
            `discovery_url = "${idp.op}/.well-known/openid-configuration"`,
            'scopes = ["openid", "email", "profile"]',
            "[social.github]",
            'client_id = "github-client"',
            'client_secret = "github-secret"',
            `authorization_url = "${idp.github}/login/oauth/authorize"`,
            `token_url = "${idp.github}/login/oauth/access_token"`,
            `userinfo_url = "${idp.github}/user"`,
            `emails_url = "${idp.github}/user/emails"`,
          ]),
      // The short pair: alike on the reference (REF_SHORT_SECS).
      ...(short
        ? [
            "[session]",
            `fresh_age = ${SHORT_SECS}`,
            "[email_and_password]",
            `reset_password_token_expires_in = ${SHORT_SECS}`,
            "[email_verification]",
            `expires_in = ${SHORT_SECS}`,
            "[magic_link]",
            `expires_in = ${SHORT_SECS}`,
            "[email_otp]",
            `expires_in = ${SHORT_SECS}`,
            "[phone_number]",
            `expires_in = ${SHORT_SECS}`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  const ghLog = path.join(tmp, `gatehouse${suffix}.log`);
  const ghEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? tmp,
    RUST_LOG: process.env.RUST_LOG ?? "warn",
    GATEHOUSE_CONFIG: toml,
    DATABASE_URL: `sqlite://${path.join(tmp, `gatehouse${suffix}.db`)}`,
    GATEHOUSE_LISTEN: `127.0.0.1:${ghPort}`,
    GATEHOUSE_BASE_URL: gh.baseURL,
    GATEHOUSE_SECRET: secret,
    GATEHOUSE_RATE_LIMIT: "off",
    GATEHOUSE_PLUGINS:
      "username,bearer,open-api,magic-link,email-otp,two-factor,passkey,admin,organization,jwt,multi-session,anonymous,api-key,phone-number,oauth-provider" +
      (short ? "" : ",generic-oauth"),
    GATEHOUSE_ADMIN_EMAIL: ADMIN_EMAIL,
    GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
    GATEHOUSE_MAIL_FROM: `Gatehouse <${gh.mailFrom}>`,
  };
  const ghChild = spawn(bin, ["serve"], {
    cwd: tmp,
    env: ghEnv,
    stdio: ["ignore", openSync(ghLog, "a"), openSync(ghLog, "a")],
  });
  // The operator's commands (`gatehouse <plugin-id> ...`) on this server's
  // configuration and database: what Better Auth's server-only calls do.
  gh.operator = (args) =>
    new Promise((resolve, reject) =>
      execFile(bin, args, { cwd: tmp, env: ghEnv }, (err, stdout, stderr) =>
        err ? reject(new Error(`gatehouse ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
      ),
    );
  children.push(ghChild);

  await Promise.all([
    waitForOk(`${ref.baseURL}/api/auth/ok`, refChild, refLog, `reference server (${pair})`),
    waitForOk(`${gh.baseURL}/api/auth/ok`, ghChild, ghLog, `gatehouse (${pair})`),
  ]);
  return [ref, gh];
}

/** Both pairs, started together: { default: [ref, gh], short: [ref, gh] }. */
async function startServers() {
  sink = await new MailSink().start();
  sms = await new SmsSink(smsSecret).start();
  const ports = { default: [await freePort(), await freePort()], short: [await freePort(), await freePort()] };
  idp = await startProviders(ports.default.map((p) => `http://localhost:${p}`));
  const [def, shortPair] = await Promise.all([startPair("default", ports.default), startPair("short", ports.short)]);
  return { default: def, short: shortPair };
}

async function followProvider(url, stopPrefix) {
  const jar = new CookieJar();
  let current = url;
  for (let i = 0; i < 20; i++) {
    if (current.startsWith(stopPrefix)) return current;
    const headers = new Headers();
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(current, { headers, redirect: "manual" });
    for (const sc of res.headers.getSetCookie()) jar.store(sc);
    const loc = res.headers.get("location");
    if (!loc) throw new Error(`${current} answered ${res.status} without a redirect`);
    current = new URL(loc, current).toString();
  }
  throw new Error(`more than 20 redirects from ${url}`);
}

async function nativeIdToken(login, nonce) {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const u = new URL(`${idp.op}/auth`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: "local-oidc",
    redirect_uri: NATIVE_REDIRECT,
    scope: "openid email profile",
    state: "native",
    nonce,
    login_hint: login,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }))
    u.searchParams.set(k, v);
  const back = await followProvider(u.toString(), NATIVE_REDIRECT);
  const code = new URL(back).searchParams.get("code");
  const res = await fetch(`${idp.op}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: NATIVE_REDIRECT,
      code_verifier: verifier,
      client_id: "local-oidc",
      client_secret: OIDC_SECRET,
    }),
  });
  const tokens = await res.json();
  if (!tokens.id_token) throw new Error(`no ID token: ${JSON.stringify(tokens)}`);
  return tokens.id_token;
}

// ------------------------------------------------------------------ running
function slug(id) {
  return id.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
}

async function runScenario(sc, sideTemplate) {
  const side = {
    ...sideTemplate,
    origin: new URL(sideTemplate.baseURL).origin,
    basePath: "/api/auth",
    trace: [],
  };
  const t = {
    side: side.name,
    base: `${side.baseURL}${side.basePath}`,
    origin: side.origin,
    actor: (label, o) => makeActor(side, label, o),
    /** Gatehouse only: runs an operator command of its binary (`["oauth-provider", "client", id, ...]`). */
    operator: side.operator,
    admin: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
    email: (tag) => `${slug(sc.id)}.${tag}.${opt.seed}@example.com`.replace(/-+/g, "-"),
    mail: (to, timeoutMs) => sink.take(side.mailFrom, to, timeoutMs),
    /** The next text message to `to` on this side: {code, kind}, or null. */
    sms: (to, timeoutMs) => sms.take(side.smsPath, to, timeoutMs),
    /** A valid mobile number (E.164) that depends only on the scenario id, tag and seed. */
    phone: (tag) => {
      const h = createHmac("sha256", "compat-phone").update(`${sc.id}|${tag}|${opt.seed}`).digest();
      return `+4477001${String(h.readUInt32BE(0) % 100000).padStart(5, "0")}`;
    },
    linkIn,
    codeIn,
    /** Real time passing; both sides of a scenario wait at once. */
    sleep,
    linkForm: (link) => pathAndQuery(link, side.origin),
    totp: (uri, offsetSteps = 0) =>
      totpGenerate({ secret: new URL(uri).searchParams.get("secret"), epoch: Math.floor(Date.now() / 1000) + 30 * offsetSteps }),
    jwt: (claims, expiresIn) => {
      const now = Math.floor(Date.now() / 1000);
      return hs256(secret, { ...claims, iat: now + Math.min(0, expiresIn) - 60, exp: now + expiresIn });
    },
    /** The local identity providers (default pair only). */
    idp: {
      op: idp?.op,
      /**
       * A fresh browser walks a provider's login from `url` (who logs in
       * comes from the request's login_hint); returns the URL it is sent
       * back to on this side (the callback), not yet opened.
       */
      login: (url) => followProvider(url, side.baseURL),
      /** An ID token from the OP, as a native app's SDK gets one. */
      idToken: (login, nonce) => nativeIdToken(login, nonce),
    },
  };
  let result;
  try {
    result = (await sc.fn(t)) ?? {};
  } catch (e) {
    result = { threw: String(e?.stack ?? e).split("\n").slice(0, 3).join(" | ") };
  }
  return { trace: side.trace, result: normalise(result, { origin: side.origin }) };
}

// ------------------------------------------------------------------ comparison
function classify(field, d) {
  const [head, ...rest] = field.split(".");
  const sub = rest.join(".");
  if (head === "status") return "status";
  if (head === "route") return "route";
  if (head === "query") return "query";
  if (head === "contentType") return "content-type";
  if (head === "location") return "location";
  if (head === "setAuthToken") return "set-auth-token header";
  if (head === "setAuthJwt") return "set-auth-jwt header";
  if (head === "request") return "request shape";
  if (head.startsWith("cookies")) return `cookie: ${sub || "(set)"}`;
  if (head.startsWith("body")) {
    const inner = field.replace(/^body\.?/, "");
    if (inner === "code") return "code";
    if (inner === "message") return "message";
    if (d.kind === "value") return `body value: ${inner || "(whole)"}`;
    return `body shape: ${inner || "(whole)"}`;
  }
  return field;
}

const COMPARED = ["route", "query", "request", "status", "contentType", "location", "cookies", "setAuthToken", "body"];

/**
 * Pairs the two traces by route with a longest-common-subsequence alignment,
 * so one extra or missing request shows as such instead of shifting every
 * later comparison.
 */
function align(a, b) {
  const n = a.length;
  const m = b.length;
  const L = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) L[i][j] = a[i].route === b[j].route ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const pairs = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i].route === b[j].route) pairs.push([i++, j++]);
    else if (j >= m || (i < n && L[i + 1][j] >= L[i][j + 1])) pairs.push([i++, null]);
    else pairs.push([null, j++]);
  }
  return pairs;
}

function compare(id, ref, gh) {
  const diffs = [];
  const seen = new Map();
  for (const [i, j] of align(ref.trace, gh.trace)) {
    const a = i === null ? null : ref.trace[i];
    const b = j === null ? null : gh.trace[j];
    const route = (a ?? b).route;
    const occurrence = (seen.get(route) ?? 0) + 1;
    seen.set(route, occurrence);
    const at = { scenario: id, index: i ?? j, route, occurrence };
    if (!a || !b) {
      diffs.push({ ...at, what: a ? "request only on reference" : "request only on gatehouse", ref: a ? a.status : null, gh: b ? b.status : null });
      continue;
    }
    const pick = (e) => Object.fromEntries(COMPARED.map((k) => [k, e[k] === undefined ? null : e[k]]));
    for (const d of diff(pick(a), pick(b))) {
      diffs.push({ ...at, field: d.path, what: classify(d.path, d), ref: d.ref, gh: d.gh });
    }
  }
  for (const d of diff(ref.result, gh.result)) {
    diffs.push({ scenario: id, index: null, route: "(result)", occurrence: 1, field: d.path, what: `result: ${d.path}`, ref: d.ref, gh: d.gh });
  }
  return diffs;
}

function loadAllowlist() {
  const file = path.join(here, "allowlist.json");
  if (!existsSync(file)) return [];
  const list = JSON.parse(readFileSync(file, "utf8"));
  for (const e of list) {
    if (!e.scenario || !e.path || !e.what || !e.reason) throw new Error(`allowlist entry needs scenario, path, what, reason: ${JSON.stringify(e)}`);
  }
  return list;
}

/** An allowlist `what`: literal text, with `*` standing for any run of characters. */
function glob(pattern) {
  const escaped = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

function allowedBy(list, d) {
  return list.find(
    (e) =>
      (e.scenario === d.scenario || (e.scenario.endsWith("*") && d.scenario.startsWith(e.scenario.slice(0, -1)))) &&
      (e.path === "*" || e.path === d.route || e.path === `${d.route}#${d.occurrence}`) &&
      glob(e.what).test(d.what),
  );
}

const short = (v) => {
  const s = v === undefined ? "∅" : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

// ------------------------------------------------------------------ main
let exitCode = 0;
try {
  const allowlist = loadAllowlist();
  const pairs = await startServers();
  const chosen = scenarios.filter((s) => !opt.only.length || opt.only.some((p) => s.id.startsWith(p)));
  const rows = [];
  const allDiffs = [];
  const perScenario = [];
  for (const sc of chosen) {
    const started = Date.now();
    const pair = pairs[sc.servers ?? "default"];
    if (!pair) throw new Error(`scenario ${sc.id}: unknown servers ${JSON.stringify(sc.servers)}`);
    const [ref, gh] = pair;
    const [r, g] = await Promise.all([runScenario(sc, ref), runScenario(sc, gh)]);
    const diffs = compare(sc.id, r, g);
    for (const d of diffs) {
      const hit = allowedBy(allowlist, d);
      if (hit) d.allowed = hit.reason;
    }
    allDiffs.push(...diffs);
    perScenario.push({ id: sc.id, ms: Date.now() - started, reference: r, gatehouse: g, diffs });
    // Table rows: one per (scenario, route), in first-use order.
    const routes = [];
    for (const e of [...r.trace, ...g.trace]) if (!routes.includes(e.route)) routes.push(e.route);
    if (diffs.some((d) => d.route === "(result)")) routes.push("(result)");
    for (const route of routes) {
      const ds = diffs.filter((d) => d.route === route);
      const open = ds.filter((d) => !d.allowed);
      const verdict = !ds.length ? "same" : open.length ? "DIFFERENT" : "allowed";
      const how = [...new Set(ds.map((d) => `${d.allowed ? "(allowed) " : ""}${d.what} ${short(d.ref)}→${short(d.gh)}`))];
      rows.push({ route, scenario: sc.id, verdict, how });
    }
    const open = diffs.filter((d) => !d.allowed).length;
    console.error(`compat: ${sc.id}: ${open ? `${open} difference(s)` : "same"} (${Date.now() - started} ms)`);
  }

  // ---------------------------------------------------------------- table
  const w1 = Math.max(5, ...rows.map((r) => r.route.length));
  const w2 = Math.max(8, ...rows.map((r) => r.scenario.length));
  const line = (a, b, c, d) => `${a.padEnd(w1)}  ${b.padEnd(w2)}  ${c.padEnd(9)}  ${d}`;
  console.log(line("route", "scenario", "result", "how"));
  console.log(line("-".repeat(w1), "-".repeat(w2), "-".repeat(9), "---"));
  for (const r of rows) {
    const hows = r.how.length ? r.how : [""];
    console.log(line(r.route, r.scenario, r.verdict, opt.verbose ? hows[0] : hows.slice(0, 3).join("; ") + (hows.length > 3 ? `; +${hows.length - 3} more` : "")));
    if (opt.verbose) for (const h of hows.slice(1)) console.log(line("", "", "", h));
  }

  const open = allDiffs.filter((d) => !d.allowed);
  const routesCovered = new Set(perScenario.flatMap((s) => [...s.reference.trace, ...s.gatehouse.trace].map((e) => e.route)));
  const unusedAllow = allowlist.filter((e) => !allDiffs.some((d) => allowedBy([e], d)));
  console.log("");
  console.log(
    `compat: ${chosen.length} scenarios, ${routesCovered.size} distinct routes, ` +
      `${rows.filter((r) => r.verdict === "same").length}/${rows.length} route rows the same, ` +
      `${open.length} difference(s) not allowlisted, ${allDiffs.length - open.length} allowlisted, ` +
      `${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  for (const e of unusedAllow) console.log(`compat: allowlist entry not used: ${JSON.stringify({ scenario: e.scenario, path: e.path, what: e.what })}`);

  const reportFile = opt.report ?? path.join(os.tmpdir(), `gatehouse-compat-report-${process.pid}.json`);
  writeFileSync(
    reportFile,
    JSON.stringify({ seed: opt.seed, scenarios: perScenario.map((s) => ({ ...s, reference: strip(s.reference), gatehouse: strip(s.gatehouse) })), differences: allDiffs }, null, 2),
  );
  console.log(`compat: full report (traces with raw responses) in ${reportFile}`);
  if (opt.keep) console.log(`compat: server logs and databases kept in ${tmp}`);
  exitCode = open.length ? 1 : 0;
} catch (e) {
  console.error(`compat: harness failure: ${e?.stack ?? e}`);
  exitCode = 2;
}
await cleanup();
process.exit(exitCode);

function strip(side) {
  return { result: side.result, trace: side.trace };
}
