// An actor is one "browser": Better Auth's own client with its plugins, a
// cookie jar, and an explicit Origin header on every request (Node's fetch
// sends `sec-fetch-mode: cors`, so without Origin both servers answer 403).
// Every request it sends is recorded in the side's transport trace.

import { createAuthClient } from "better-auth/client";
import {
  adminClient,
  anonymousClient,
  emailOTPClient,
  jwtClient,
  magicLinkClient,
  multiSessionClient,
  organizationClient,
  phoneNumberClient,
  twoFactorClient,
  usernameClient,
} from "better-auth/client/plugins";
import { passkeyClient } from "@better-auth/passkey/client";

import { CookieJar } from "../../node/cookie-jar.mjs";
import { cookieAttributes, normalise, pathAndQuery, shape } from "./normalise.mjs";

function routeOf(method, pathname, basePath) {
  let p = pathname.startsWith(basePath) ? pathname.slice(basePath.length) || "/" : pathname;
  p = p.replace(/^\/reset-password\/[^/]+$/, "/reset-password/:token");
  return `${method} ${p}`;
}

async function readBody(res) {
  const text = await res.text();
  if (text === "") return { parsed: undefined, repr: "<empty>" };
  try {
    return { parsed: JSON.parse(text), repr: null };
  } catch {
    return { parsed: undefined, repr: `<non-JSON ${text.length} bytes>` };
  }
}

/**
 * side: { name, baseURL, origin, basePath, trace, ... }.
 * opts.origin: the Origin header to send (null: none); default the side's origin.
 */
export function makeActor(side, label, opts = {}) {
  const jar = new CookieJar();
  const origin = opts.origin === undefined ? side.origin : opts.origin;
  let lastAuthToken = null;

  let compareNextBody = true;

  async function actorFetch(input, init = {}) {
    const url = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url);
    const method = (init.method ?? (typeof input === "object" && input.method) ?? "GET").toUpperCase();
    const headers = new Headers(init.headers ?? (typeof input === "object" && !(input instanceof URL) ? input.headers : undefined));
    // The jar's cookies; a caller may pass its own Cookie header (forged requests).
    const cookie = (opts.noCookies ? null : jar.header()) ?? headers.get("cookie");
    if (cookie) headers.set("cookie", cookie);
    else headers.delete("cookie");
    if (origin) headers.set("origin", origin);
    else headers.delete("origin");
    const res = await fetch(url, { ...init, method, headers, redirect: "manual" });
    const setCookies = res.headers.getSetCookie();
    if (!opts.noCookies) for (const sc of setCookies) jar.store(sc);
    if (res.headers.get("set-auth-token")) lastAuthToken = res.headers.get("set-auth-token");
    const { parsed, repr } = await readBody(res.clone());
    let reqBody;
    if (typeof init.body === "string") {
      try {
        reqBody = JSON.parse(init.body);
      } catch {
        reqBody = "<non-JSON>";
      }
    }
    const nctx = { origin: side.origin };
    side.trace.push({
      actor: label,
      route: routeOf(method, url.pathname, side.basePath),
      query: url.search ? pathAndQuery(url.search, side.origin).replace(/^\/[^?]*/, "") : "",
      request: reqBody === undefined ? undefined : shape(reqBody),
      status: res.status,
      contentType: (res.headers.get("content-type") ?? "").split(";")[0].trim() || null,
      location: res.headers.has("location") ? pathAndQuery(res.headers.get("location"), side.origin) : undefined,
      cookies: cookieAttributes(setCookies),
      setAuthToken: res.headers.has("set-auth-token"),
      setAuthJwt: res.headers.has("set-auth-jwt"),
      // A page (the error page's HTML) is compared by status and content type only.
      body: compareNextBody ? (repr ?? normalise(parsed, nctx)) : "<not compared>",
      raw: { url: url.toString(), status: res.status, setCookies, location: res.headers.get("location"), body: repr ?? parsed },
    });
    return res;
  }

  const client = createAuthClient({
    baseURL: side.baseURL,
    plugins: [
      usernameClient(),
      magicLinkClient(),
      emailOTPClient(),
      twoFactorClient({ onTwoFactorRedirect: () => {} }),
      passkeyClient(),
      adminClient(),
      organizationClient({ teams: { enabled: true }, dynamicAccessControl: { enabled: true } }),
      jwtClient(),
      multiSessionClient(),
      anonymousClient(),
      phoneNumberClient(),
    ],
    fetchOptions: { customFetchImpl: actorFetch },
  });

  /**
   * A raw request (e.g. opening a mailed link); redirects are not followed.
   * compareBody: false records the response body as not compared (an HTML page).
   */
  async function request(method, pathOrUrl, { body, headers, compareBody = true } = {}) {
    const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : `${side.baseURL}${side.basePath}${pathOrUrl}`;
    const h = new Headers(headers);
    if (body !== undefined) h.set("content-type", "application/json");
    compareNextBody = compareBody;
    let res;
    try {
      res = await actorFetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    } finally {
      compareNextBody = true;
    }
    const entry = side.trace.at(-1);
    return { status: entry.status, location: entry.location ?? null, body: entry.raw.body };
  }

  return {
    label,
    client,
    jar,
    request,
    fetch: actorFetch,
    get authToken() {
      return lastAuthToken;
    },
    /** The session cookie names in the jar (what a browser would keep). */
    // Multi-session cookies carry a token in their name.
    cookieNames: () => jar.names().map((n) => n.replace(/_multi-.*$/, "_multi-<token>")).sort(),
  };
}
