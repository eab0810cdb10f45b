// A tiny GitHub-shaped OAuth 2 server (non-OIDC): documented JSON of
//   GET  /login/oauth/authorize   -> 302 redirect_uri?code&state   (auto-approves; login from login= param or "octocat")
//   POST /login/oauth/access_token -> {access_token, token_type:"bearer", scope}  (form or JSON; checks PKCE S256)
//   GET  /user, GET /user/emails   (Authorization: Bearer / token <access_token>)
//   GET  /discord/users/@me        Discord's /users/@me JSON for the same login (Bearer)
//   GET  /facebook/me              Facebook Graph's /me JSON (fields id,name,email,picture) (Bearer)
// The authorize and token endpoints serve every shape.
//   node ghmock.mjs <port>   -> "READY http://127.0.0.1:<port>"
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";

const port = Number(process.argv[2]);
const codes = new Map(); // code -> {login, client_id, redirect_uri, challenge}
const tokens = new Map(); // token -> login
const users = new Map(); // login -> profile
let nextId = 1000;
function user(login) {
  if (!users.has(login)) {
    const unverified = login.includes("unverified");
    users.set(login, {
      profile: { login, id: nextId++, node_id: "MDQ6VXNlcj" + nextId, avatar_url: `https://avatars.example/u/${login}`, name: login === "noname" ? null : `The ${login}`, email: login.includes("private") || login.includes("noemail") ? null : `${login}@example.com`, type: "User" },
      // "noemail" logins have no address at all (GitHub allows an account without a public or verified one).
      emails: login.includes("noemail") ? [] : [{ email: `${login}@example.com`, primary: true, verified: !unverified, visibility: login.includes("private") ? null : "public" }],
    });
  }
  return users.get(login);
}
const body = (req) => new Promise((r) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => r(b)); });
const json = (res, code, v) => res.writeHead(code, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(v));

http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
    const q = url.searchParams;
    const code = randomBytes(10).toString("hex");
    codes.set(code, { login: q.get("login") || q.get("login_hint") || "octocat", client_id: q.get("client_id"), redirect_uri: q.get("redirect_uri"), challenge: q.get("code_challenge"), scope: q.get("scope") });
    const to = new URL(q.get("redirect_uri"));
    to.searchParams.set("code", code);
    if (q.get("state")) to.searchParams.set("state", q.get("state"));
    return res.writeHead(302, { location: to.href }).end();
  }
  if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
    const raw = await body(req);
    const p = (req.headers["content-type"] || "").includes("json") ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw));
    const c = codes.get(p.code);
    codes.delete(p.code);
    // GitHub answers errors with HTTP 200 and an error body.
    if (!c) return json(res, 200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
    if (c.challenge && createHash("sha256").update(p.code_verifier || "").digest("base64url") !== c.challenge)
      return json(res, 200, { error: "bad_verification_code", error_description: "PKCE verification failed" });
    const t = "gho_" + randomBytes(18).toString("hex");
    tokens.set(t, c.login);
    return json(res, 200, { access_token: t, token_type: "bearer", scope: (c.scope || "").replace(/ /g, ",") });
  }
  const auth = (req.headers.authorization || "").replace(/^(Bearer|token) /i, "");
  const login = tokens.get(auth);
  if (url.pathname === "/user" || url.pathname === "/user/emails") {
    if (!login) return json(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    return json(res, 200, url.pathname === "/user" ? user(login).profile : user(login).emails);
  }
  if (url.pathname === "/discord/users/@me") {
    if (!login) return json(res, 401, { message: "401: Unauthorized", code: 0 });
    const u = user(login).profile;
    return json(res, 200, {
      id: String(80351110224678912n + BigInt(u.id)),
      username: login,
      global_name: login === "noname" ? null : `The ${login}`,
      avatar: "8342729096ea3675442027381ff50dfe",
      discriminator: "0",
      email: `${login}@example.com`,
      verified: !login.includes("unverified"),
      locale: "en-US",
      mfa_enabled: false,
    });
  }
  if (url.pathname === "/facebook/me") {
    if (!login) return json(res, 400, { error: { message: "Invalid OAuth access token.", type: "OAuthException", code: 190 } });
    const u = user(login).profile;
    return json(res, 200, {
      id: String(10150000000000000n + BigInt(u.id)),
      name: `The ${login}`,
      email: `${login}@example.com`,
      picture: { data: { height: 50, is_silhouette: false, url: `https://graph.example/${login}.jpg`, width: 50 } },
    });
  }
  json(res, 404, { message: "Not Found" });
}).listen(port, "127.0.0.1", () => process.stdout.write(`READY http://127.0.0.1:${port}\n`));
