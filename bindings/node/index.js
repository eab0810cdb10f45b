// Better Auth's client API (`createAuthClient`, `{ data, error }` results)
// over the native Rust client. Everything per plugin comes from the spec:
// the route table (generated/routes.js) puts every route of the core and of
// each registered plugin at Better Auth's method path (`/sign-in/username` ->
// `client.signIn.username`), and generated/plugins.js defines Better Auth's
// factories (`twoFactorClient()`...). A plugin the server
// lacks makes every call answer `error.code === "PLUGIN_NOT_ENABLED"` before
// any request reaches its routes.
"use strict";

const { join } = require("node:path");

const { platformTriple } = require("./scripts/platform.js");
const routes = require("./generated/routes.js");

/** The addon: the platform package's prebuilt one, else a source checkout's build. */
function loadAddon() {
  const triple = platformTriple();
  for (const candidate of [`@gatehouse/client-${triple}`, join(__dirname, `gatehouse.${triple}.node`)]) {
    try {
      return require(candidate);
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  throw new Error(
    `@gatehouse/client: no native addon for ${triple}: install @gatehouse/client-${triple}, ` +
      "or build it in a source checkout (npm run build)",
  );
}

const { NativeClient } = loadAddon();

/** The `bearer` plugin: sessions travel as `Authorization: Bearer` (it has no routes). */
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

/**
 * Better Auth's `on<Name>Redirect` plugin options (e.g. `onTwoFactorRedirect`):
 * called when an answer carries `<name>Redirect: true`, with the rest of it.
 */
function redirectHooks(plugins) {
  const hooks = [];
  for (const plugin of plugins) {
    for (const [key, fn] of Object.entries(plugin)) {
      const m = /^on([A-Z]\w*Redirect)$/.exec(key);
      if (m && typeof fn === "function") hooks.push({ field: m[1][0].toLowerCase() + m[1].slice(1), fn });
    }
  }
  return hooks;
}

function createAuthClient(options = {}) {
  const { baseURL, plugins = [] } = options;
  if (typeof baseURL !== "string" || baseURL.length === 0) {
    throw new TypeError("createAuthClient: baseURL is required");
  }
  const ids = plugins.map((p) => p.id);
  const native = new NativeClient(baseURL, ids);
  const hooks = redirectHooks(plugins);
  const request = async (method, path, body, plugin) => {
    const result = JSON.parse(
      await native.request(method, path, body === undefined ? null : JSON.stringify(body), plugin),
    );
    for (const { field, fn } of hooks) {
      if (result.data?.[field] === true) {
        const { [field]: _, ...context } = result.data;
        await fn(context);
      }
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

// The plugin factories (`usernameClient`...) come from the spec; spread from
// `require` so that ES modules can import every name.
/**
 * The `generic-oauth` plugin: its providers sign in through `signIn.social`
 * and `linkSocial` like the built-in ones (it has no routes of its own).
 */
function genericOAuthClient() {
  return { id: "generic-oauth" };
}

module.exports = {
  createAuthClient,
  bearerClient,
  genericOAuthClient,
  ...require("./generated/plugins.js"),
};
