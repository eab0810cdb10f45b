// Better Auth's client API (`createAuthClient`, `{ data, error }` results)
// over the native Rust client. The surface is built from the route table
// generated from the spec (generated/routes.js): every route of the core and
// of each registered plugin appears at Better Auth's method path
// (`/sign-in/username` -> `client.signIn.username`). A plugin the server
// lacks makes every call answer `error.code === "PLUGIN_NOT_ENABLED"` before
// any request reaches its routes.
"use strict";

const { join } = require("node:path");

const { NativeClient } = require(join(__dirname, `gatehouse.${process.platform}-${process.arch}.node`));
const routes = require("./generated/routes.js");

/** The `username` plugin (as `usernameClient` from `better-auth/client/plugins`). */
function usernameClient() {
  return { id: "username" };
}

/** The `magic-link` plugin (as `magicLinkClient` from `better-auth/client/plugins`). */
function magicLinkClient() {
  return { id: "magic-link" };
}

/** The `email-otp` plugin (as `emailOTPClient` from `better-auth/client/plugins`). */
function emailOTPClient() {
  return { id: "email-otp" };
}

/**
 * The `two-factor` plugin (as `twoFactorClient` from `better-auth/client/plugins`).
 * A password sign-in of a user with 2FA answers `{ twoFactorRedirect: true,
 * twoFactorMethods }` instead of a session; `onTwoFactorRedirect` is called
 * then, and `client.twoFactor.verifyTotp` / `verifyOtp` / `verifyBackupCode`
 * finish the sign-in (the client keeps the challenge cookie).
 */
function twoFactorClient(options = {}) {
  return { id: "two-factor", onTwoFactorRedirect: options.onTwoFactorRedirect };
}

/**
 * The `passkey` plugin (as `passkeyClient` from `@better-auth/passkey/client`): the
 * `client.passkey.*` routes. The WebAuthn ceremony itself runs in a browser or
 * platform authenticator; pass its JSON response to `verifyRegistration` /
 * `verifyAuthentication`.
 */
function passkeyClient() {
  return { id: "passkey" };
}

/** The `bearer` plugin: sessions travel as `Authorization: Bearer`. */
function bearerClient() {
  return { id: "bearer" };
}

function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null) params.append(k, typeof v === "string" ? v : JSON.stringify(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

function createAuthClient(options = {}) {
  const { baseURL, plugins = [] } = options;
  if (typeof baseURL !== "string" || baseURL.length === 0) {
    throw new TypeError("createAuthClient: baseURL is required");
  }
  const ids = plugins.map((p) => p.id);
  const native = new NativeClient(baseURL, ids);
  const redirectHooks = plugins.map((p) => p.onTwoFactorRedirect).filter((f) => typeof f === "function");
  const request = async (method, path, body, plugin) => {
    const result = JSON.parse(
      await native.request(method, path, body === undefined ? null : JSON.stringify(body), plugin),
    );
    if (result.data?.twoFactorRedirect) {
      for (const hook of redirectHooks) await hook({ twoFactorMethods: result.data.twoFactorMethods });
    }
    return result;
  };

  const client = {
    /** The stored session token (`token.signature`), or null. */
    sessionToken: async () => (await native.sessionToken()) ?? null,
  };
  for (const route of routes) {
    if (route.plugin !== "core" && !ids.includes(route.plugin)) continue;
    let ns = client;
    for (const segment of route.clientPath.slice(0, -1)) ns = ns[segment] ??= {};
    const plugin = route.plugin === "core" ? null : route.plugin;
    const call =
      route.method === "GET"
        ? (arg) => request("GET", route.path + queryString(arg?.query), undefined, plugin)
        : (body) => request(route.method, route.path, body ?? {}, plugin);
    ns[route.clientPath[route.clientPath.length - 1]] = call;
  }
  return client;
}

module.exports = {
  createAuthClient,
  usernameClient,
  magicLinkClient,
  emailOTPClient,
  twoFactorClient,
  passkeyClient,
  bearerClient,
};
