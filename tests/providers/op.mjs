// A minimal, real OpenID Provider (panva's oidc-provider 9.x) for headless tests.
//
//   node op.mjs <port>            -> prints "READY <issuer>" on stdout when it answers
//
// Environment (all optional):
//   OP_ISSUER            issuer URL (default http://127.0.0.1:<port>)
//   OP_CLIENT_ID         default "gatehouse-test"
//   OP_CLIENT_SECRET     default "gatehouse-test-secret"
//   OP_REDIRECT_URIS     space- or comma-separated redirect URIs (required for the default client)
//   OP_TOKEN_AUTH        token_endpoint_auth_method: client_secret_basic (default) | client_secret_post
//   OP_CLIENTS           JSON array of full client metadata objects (replaces the default client)
//   OP_ACCESS_TOKEN_TTL  seconds (default 3600); small values make refresh tests possible
//   OP_CONFORM           "1" = spec-conform ID tokens (email/name/picture only via userinfo);
//                        default: all requested claims are put into the ID token as well
//   OP_ACCOUNTS          JSON array of {email, email_verified?, name?, picture?, sub?}
//
// Accounts: any login "x@y" is accepted (password ignored). The account is created on first use:
//   sub = "sub-" + sha256(lower(email))[0..16], name = local part, picture = https://img.example/<local>.png,
//   email_verified = false iff the local part contains "unverified", else true.
//
// Headless login (no browser, no HTML parsing): the interaction URL (/interaction/:uid)
// completes login AND consent on GET when it knows who logs in, from (first match)
//   1. the next entry queued with POST /__test/next {"login":"alice@example.com"} or {"deny":true},
//      optionally with "redirect_uri_prefix" so that concurrent RPs (reference + Gatehouse) don't race
//   2. the authorization request's login_hint parameter; login_hint "deny@..." = the user cancels
//      (redirect_uri?error=access_denied&error_description=End-User+aborted+interaction&state&iss)
// otherwise it renders a one-field form that POSTs `login=<email>` to /interaction/:uid/login.
// A client that follows 302/303 redirects with a cookie jar therefore goes
//   /auth?...  -> 303 /interaction/<uid> -> 303 /auth/<uid> -> 303 /interaction/<uid2> (consent)
//   -> 303 /auth/<uid2> -> 303 <redirect_uri>?code=...&state=...&iss=<issuer>
// Test-only control API (JSON): POST /__test/next, POST /__test/accounts (upsert), GET /__test/accounts,
// POST /__test/sign {"claims": {...}} -> {"token"}: any claims signed with the OP's key.

import { createHash } from "node:crypto";
import http from "node:http";

import { exportJWK, generateKeyPair, SignJWT } from "jose";
import Provider, { errors } from "oidc-provider";

const port = Number(process.argv[2] || process.env.OP_PORT || 0);
if (!port) throw new Error("usage: node op.mjs <port>");
const issuer = process.env.OP_ISSUER || `http://127.0.0.1:${port}`;

// ---------------------------------------------------------------- accounts
const accounts = new Map(); // sub -> claims
const bySub = (email) => "sub-" + createHash("sha256").update(email.toLowerCase()).digest("hex").slice(0, 16);
function upsertAccount(a) {
  const email = String(a.email).toLowerCase();
  const local = email.split("@")[0];
  const sub = a.sub || bySub(email);
  const prev = accounts.get(sub) || {};
  const acc = {
    sub,
    email,
    email_verified: a.email_verified ?? prev.email_verified ?? !local.includes("unverified"),
    name: a.name ?? prev.name ?? local,
    picture: a.picture ?? prev.picture ?? `https://img.example/${encodeURIComponent(local)}.png`,
  };
  accounts.set(sub, acc);
  return acc;
}
for (const a of JSON.parse(process.env.OP_ACCOUNTS || "[]")) upsertAccount(a);
const findByEmail = (email) => [...accounts.values()].find((a) => a.email === email.toLowerCase());
const loginAccount = (email) => findByEmail(email) || upsertAccount({ email });

// ---------------------------------------------------------------- clients
const clients = process.env.OP_CLIENTS
  ? JSON.parse(process.env.OP_CLIENTS)
  : [
      {
        client_id: process.env.OP_CLIENT_ID || "gatehouse-test",
        client_secret: process.env.OP_CLIENT_SECRET || "gatehouse-test-secret",
        redirect_uris: (process.env.OP_REDIRECT_URIS || "").split(/[\s,]+/).filter(Boolean),
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: process.env.OP_TOKEN_AUTH || "client_secret_basic",
      },
    ];

// ---------------------------------------------------------------- keys
const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: "op-rs256-1", alg: "RS256", use: "sig" };

const conform = process.env.OP_CONFORM === "1";
const next = []; // queued headless decisions

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [jwk] },
  cookies: { keys: ["op-cookie-key-for-tests-only"] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "picture"],
  },
  scopes: ["openid", "offline_access", "email", "profile"],
  conformIdTokenClaims: conform, // false => ID token carries email/name/picture (Google-like)
  pkce: { required: () => true }, // v9: only S256 exists; `methods` option is gone
  features: {
    devInteractions: { enabled: false }, // we serve /interaction/:uid ourselves
    userinfo: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Issue refresh tokens to every client allowed the grant (default needs offline_access+consent).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed("refresh_token"),
  ttl: {
    AccessToken: Number(process.env.OP_ACCESS_TOKEN_TTL || 3600),
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async findAccount(ctx, sub) {
    const acc = accounts.get(sub);
    if (!acc) return undefined;
    return { accountId: sub, async claims() { return { ...acc } } };
  },
  renderError(ctx, out) {
    ctx.type = "json";
    ctx.body = out;
  },
});
provider.on("server_error", (ctx, err) => console.error("op server_error", err));

// ---------------------------------------------------------------- interactions
async function finish(req, res, result, merge) {
  const to = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: merge });
  res.writeHead(303, { location: to, "cache-control": "no-store" }).end();
}
async function doLogin(req, res, email) {
  if (email === null) return finish(req, res, { error: "access_denied", error_description: "End-User aborted interaction" }, false);
  const acc = loginAccount(email);
  return finish(req, res, { login: { accountId: acc.sub } }, false);
}
async function doConsent(req, res, details) {
  const { prompt, grantId, session, params } = details;
  const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const d = prompt.details;
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(" "));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) for (const [ind, s] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(ind, s.join(" "));
  return finish(req, res, { consent: { grantId: await grant.save() } }, true);
}
const readBody = (req) =>
  new Promise((resolve, reject) => {
    let b = "";
    req.on("data", (c) => (b += c));
    req.on("end", () => resolve(b));
    req.on("error", reject);
  });

async function interaction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login|\/abort)?$/);
  if (!m) return false;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: e.name, message: e.message }));
    return true;
  }
  const { prompt, params } = details;
  if (req.method === "POST" && m[2] === "/abort") return doLogin(req, res, null), true;
  if (req.method === "POST" && m[2] === "/login") {
    const login = new URLSearchParams(await readBody(req)).get("login");
    return await doLogin(req, res, login), true;
  }
  if (prompt.name === "consent") return await doConsent(req, res, details), true;
  if (prompt.name === "login") {
    const i = next.findIndex((q) => !q.redirect_uri_prefix || String(params.redirect_uri).startsWith(q.redirect_uri_prefix));
    const queued = i >= 0 ? next.splice(i, 1)[0] : null;
    if (queued) return await doLogin(req, res, queued.deny ? null : queued.login), true;
    if (params.login_hint) return await doLogin(req, res, /^deny@/i.test(params.login_hint) ? null : params.login_hint), true;
    res.writeHead(200, { "content-type": "text/html" }).end(
      `<!doctype html><form method="post" action="/interaction/${details.uid}/login">` +
        `<input name="login" placeholder="email"><button>Sign in</button></form>` +
        `<form method="post" action="/interaction/${details.uid}/abort"><button>Cancel</button></form>`,
    );
    return true;
  }
  res.writeHead(501).end(`prompt ${prompt.name} not implemented`);
  return true;
}

async function testApi(req, res, url) {
  if (!url.pathname.startsWith("/__test/")) return false;
  const json = (code, v) => res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(v));
  if (req.method === "POST" && url.pathname === "/__test/next") {
    next.push(JSON.parse((await readBody(req)) || "{}"));
    return json(200, { queued: next.length }), true;
  }
  if (req.method === "POST" && url.pathname === "/__test/accounts") {
    return json(200, upsertAccount(JSON.parse(await readBody(req)))), true;
  }
  if (req.method === "GET" && url.pathname === "/__test/accounts") return json(200, [...accounts.values()]), true;
  if (req.method === "POST" && url.pathname === "/__test/sign") {
    // Signs any claims with the OP's own key: tokens the OP would never
    // issue (expired, future-dated...) that still carry a valid signature.
    const { claims } = JSON.parse((await readBody(req)) || "{}");
    const token = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: jwk.kid, typ: "JWT" }).sign(privateKey);
    return json(200, { token }), true;
  }
  return json(404, { error: "not_found" }), true;
}

const opHandler = provider.callback();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (await testApi(req, res, url)) return;
    if (await interaction(req, res, url)) return;
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500).end(String(e));
    return;
  }
  opHandler(req, res);
});
server.listen(port, "127.0.0.1", () => process.stdout.write(`READY ${issuer}\n`));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
export { errors };
