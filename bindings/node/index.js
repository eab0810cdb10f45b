// Better Auth's client API (`createAuthClient`, `{ data, error }` results)
// over the native Rust client. Plugin namespaces exist only for registered
// plugins, and a plugin the server lacks makes every call answer
// `error.code === "PLUGIN_NOT_ENABLED"` before any request reaches its routes.
"use strict";

const { join } = require("node:path");

const { NativeClient } = require(join(__dirname, `gatehouse.${process.platform}-${process.arch}.node`));

/** The `username` plugin (as `usernameClient` from `better-auth/client/plugins`). */
function usernameClient() {
  return { id: "username" };
}

/** The `bearer` plugin: sessions travel as `Authorization: Bearer`. */
function bearerClient() {
  return { id: "bearer" };
}

function createAuthClient(options = {}) {
  const { baseURL, plugins = [] } = options;
  if (typeof baseURL !== "string" || baseURL.length === 0) {
    throw new TypeError("createAuthClient: baseURL is required");
  }
  const ids = plugins.map((p) => p.id);
  const native = new NativeClient(baseURL, ids, false);
  const call = async (route, body) => JSON.parse(await native.call(route, body === undefined ? "" : JSON.stringify(body)));

  const client = {
    signUp: { email: (body) => call("/sign-up/email", body) },
    signIn: { email: (body) => call("/sign-in/email", body) },
    getSession: () => call("/get-session"),
    signOut: () => call("/sign-out"),
    listSessions: () => call("/list-sessions"),
    revokeSession: (body) => call("/revoke-session", body),
    updateUser: (body) => call("/update-user", body),
    listAccounts: () => call("/list-accounts"),
    /** The stored session token (`token.signature`), or null. */
    sessionToken: async () => (await native.sessionToken()) ?? null,
  };
  if (ids.includes("username")) {
    client.signIn.username = (body) => call("/sign-in/username", body);
    client.isUsernameAvailable = (body) => call("/is-username-available", body);
  }
  return client;
}

module.exports = { createAuthClient, usernameClient, bearerClient };
