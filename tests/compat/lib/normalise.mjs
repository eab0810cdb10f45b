// Normalisation and diffing. The rules (and nothing looser):
// - object keys sorted;
// - values under `id`, `*Id`/`*ID` (but not `providerId`, a name such as
//   "credential"), any key containing `token` (but not OAuth's `token_type` and
//   `token_endpoint*`), `*At`, `*URL`/`*Url`, and
//   WebAuthn's random `challenge` and per-credential `publicKey`, `impersonatedBy`, an ID
//   token's `nonce`, replaced by a
//   placeholder; in a JSON Web Key (an object with `kty`), `kid` and the key
//   material (`x`, `y`, `n`, `e`, `d`) replaced by their decoded length, i.e. a
//   placeholder (null stays null, so "a token" vs "no token" is still a difference);
// - dates (Date objects and ISO-8601 strings) replaced by a placeholder;
// - `location` reduced to path + query, token-like query values and path
//   tokens/ids (reset-password/:token, accept-invitation/:id) masked;
// - an anonymous user's placeholder email has its random id masked;
// - the two servers listen on different ports, so a string starting with the
//   server's own origin has that origin replaced by `<origin>`;
// - random secrets that are not under such keys are reduced to their format:
//   the TOTP secret inside an otpauth:// URI and each backup code;
// - OAuth's snake_case identifiers and secrets (`client_id`, `client_secret`,
//   `user_id`, the token claims `sub`, `sid`, `azp`, `jti`, `at_hash`, and device
//   authorization's `device_code` and `user_code`) masked,
//   and its epoch-second times (`iat`, `exp`, `nbf`, `auth_time`, `expires_at`,
//   `client_id_issued_at`, `client_secret_expires_at`) masked unless 0;
// - in a URL query, `client_id` and a signed authorization query's envelope
//   (`sig`, `exp`, `ba_iat`) masked; a signed query (one with `sig`: the login
//   and consent pages' `oauth_query`) is reduced to its authorization
//   parameters, sorted, with `ba_param` (Better Auth's list of the signed names)
//   dropped: the two servers sign the same parameters in different formats;
// - a `url` on the server's own origin, or a relative one, reduced to path +
//   query like `location` (where the next page is, not how it is spelled);
//   a `verification_uri_complete` on it keeps `<origin>`, its user code masked.
// Everything else (error code, message, status, names, emails, booleans, ...)
// is compared literally.

const ANON_EMAIL = /^[a-z0-9]+@(anonymous\.placeholder\.invalid)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
// Query values that are secrets, or ids (which differ between the two servers).
// (`nonce`: an OIDC flow's random binding.)
// (`client_id`: an OAuth client's random id; `sig`, `exp`, `ba_iat`: a signed
// authorization query's signature, expiry and time.)
const TOKEN_QUERY_KEYS = /token|otp|code|state|secret|signature|nonce|^id$|Id$|^client_id$|^sig$|^exp$|^ba_iat$/;
// Better Auth's list of the names a signed authorization query covers.
const SIGNED_QUERY_NAMES = "ba_param";

// OAuth's random identifiers and secrets under snake_case (or claim) names.
// (`device_code`, `user_code`: device authorization's codes, RFC 8628.)
const OAUTH_MASKED = new Set(["client_id", "client_secret", "user_id", "sub", "sid", "azp", "jti", "at_hash", "device_code", "user_code"]);
// OAuth's times, in epoch seconds.
const OAUTH_EPOCH = new Set(["iat", "exp", "nbf", "auth_time", "expires_at", "client_id_issued_at", "client_secret_expires_at"]);

export function isMaskedKey(key) {
  if (typeof key !== "string") return false;
  // An account's provider ("credential", ...) is a name, not an identifier.
  if (key === "providerId") return false;
  // OAuth names with "token" in them that are not tokens ("Bearer", a URL, "client_secret_basic").
  if (key === "token_type" || key.startsWith("token_endpoint")) return false;
  return (
    key === "id" ||
    /I[dD]$/.test(key) ||
    /token/i.test(key) ||
    /At$/.test(key) ||
    /(URL|Url)$/.test(key) ||
    key === "challenge" ||
    OAUTH_MASKED.has(key) ||
    // An OIDC flow's random binding (in ID-token claims).
    key === "nonce" ||
    key === "publicKey" ||
    // A user id under a name that does not end in Id (admin's impersonation marker).
    key === "impersonatedBy"
  );
}

/** path + query of a URL (absolute or relative), token-like query values masked. */
export function pathAndQuery(raw, base = "http://x.invalid") {
  if (raw == null || raw === "") return raw;
  let u;
  try {
    u = new URL(raw, base);
  } catch {
    return `<unparsable:${raw}>`;
  }
  // A query value naming the server itself (a provider's redirect_uri) has
  // its origin replaced, as the two servers listen on different ports.
  const own = (v) => (base && v.startsWith(new URL(base).origin) ? `<origin>${v.slice(new URL(base).origin.length)}` : v);
  let entries = [...u.searchParams];
  // A signed authorization query: its parameters, whatever order and
  // envelope format the server signed them in.
  if (u.searchParams.has("sig")) {
    entries = entries.filter(([k]) => k !== SIGNED_QUERY_NAMES).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  const qs = entries
    .map(([k, v]) => `${encodeURIComponent(k)}=${TOKEN_QUERY_KEYS.test(k) && v !== "" ? "<masked>" : encodeURIComponent(own(v))}`)
    .join("&");
  // Tokens and ids carried in the path (reset-password/:token, the mailed
  // organization invitation's accept-invitation/:id).
  const p = u.pathname
    .replace(/\/reset-password\/[^/]+$/, "/reset-password/<masked>")
    .replace(/\/accept-invitation\/[^/]+$/, "/accept-invitation/<masked>");
  return p + (qs ? `?${qs}` : "");
}

function backupCodeFormat(s) {
  return typeof s === "string" ? `<code:${s.replace(/[A-Za-z0-9]/g, "x")}>` : s;
}

// A JWK's kid and key material, compared by length only.
const JWK_MATERIAL = new Set(["kid", "x", "y", "n", "e", "d"]);

/** The normalised form of a value observed by the client (literal comparison). */
export function normalise(value, ctx = {}, key = undefined) {
  const origin = ctx.origin;
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (value instanceof Date) return "<date>";
  if (Array.isArray(value)) {
    if (key === "backupCodes") return value.map(backupCodeFormat);
    return value.map((v) => normalise(v, ctx, undefined));
  }
  if (typeof value === "object") {
    const out = {};
    // A JSON Web Key: its id and key material are random per server.
    const jwk = typeof value.kty === "string";
    for (const k of Object.keys(value).sort()) {
      if (jwk && JWK_MATERIAL.has(k) && typeof value[k] === "string") {
        out[k] = `<${k}:${Buffer.from(value[k], "base64url").length} bytes>`;
        continue;
      }
      const v = normalise(value[k], ctx, k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  if (typeof value === "string") {
    if (key === "location") return pathAndQuery(value, origin);
    // Where the browser goes next on this server (an OAuth login or consent
    // page): compared like `location`.
    if (key === "url" && (value.startsWith("/") || (origin && value.startsWith(`${origin}/`)))) return pathAndQuery(value, origin);
    // A device page's URL with the user code in its query (RFC 8628 §3.3.1).
    if (key === "verification_uri_complete" && origin && value.startsWith(`${origin}/`)) return `<origin>${pathAndQuery(value, origin)}`;
    // An authorization URL at another origin (a provider): that origin, then
    // the path and query with their secrets masked.
    if (key === "url" && /^https?:\/\//.test(value) && !(origin && value.startsWith(origin))) {
      try {
        return new URL(value).origin + pathAndQuery(value, origin);
      } catch {
        return value;
      }
    }
    if (isMaskedKey(key)) return "<masked>";
    if (ISO_DATE.test(value)) return "<date>";
    if (value.startsWith("otpauth://")) {
      try {
        const u = new URL(value);
        if (u.searchParams.has("secret")) u.searchParams.set("secret", "<secret>");
        return decodeURIComponent(u.toString());
      } catch {
        return value;
      }
    }
    // An anonymous user's placeholder address embeds a random id.
    if (ANON_EMAIL.test(value)) return value.replace(ANON_EMAIL, "<id>@$1");
    if (origin && value.startsWith(origin)) return `<origin>${value.slice(origin.length)}`;
    return value;
  }
  if (typeof value === "number" && OAUTH_EPOCH.has(key) && value !== 0) return "<epoch>";
  return value;
}

/** JSON shape: types only; arrays judged by their first element. */
export function shape(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length ? [shape(value[0])] : [];
  if (typeof value === "object") {
    const out = {};
    for (const k of Object.keys(value).sort()) out[k] = shape(value[k]);
    return out;
  }
  return typeof value;
}

/** name -> attributes for every Set-Cookie header (values are not kept). */
export function cookieAttributes(setCookies) {
  const out = {};
  for (const header of setCookies) {
    const [pair, ...attrs] = header.split(";");
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const a = { path: null, httpOnly: false, secure: false, sameSite: null, maxAge: null };
    for (const attr of attrs) {
      const i = attr.indexOf("=");
      const k = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const v = i < 0 ? "" : attr.slice(i + 1).trim();
      if (k === "path") a.path = v;
      else if (k === "httponly") a.httpOnly = true;
      else if (k === "secure") a.secure = true;
      else if (k === "samesite") a.sameSite = v.toLowerCase();
      else if (k === "max-age") a.maxAge = Number.parseInt(v, 10);
    }
    // Multi-session cookie names embed the (lower-cased) token.
    const key = name.replace(/_multi-.*$/, "_multi-<token>");
    out[key] = out[key] ? [].concat(out[key], a) : a;
  }
  return out;
}

/** Deep diff of two normalised values: [{path, ref, gh}]. */
export function diff(a, b, path = "") {
  const out = [];
  const ta = kind(a);
  const tb = kind(b);
  if (ta !== tb) {
    out.push({ path, ref: a, gh: b, kind: "type" });
    return out;
  }
  if (ta === "array") {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i >= a.length || i >= b.length) out.push({ path: `${path}[${i}]`, ref: a[i], gh: b[i], kind: "presence" });
      else out.push(...diff(a[i], b[i], `${path}[${i}]`));
    }
    return out;
  }
  if (ta === "object") {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a) || !(k in b)) out.push({ path: p, ref: a[k], gh: b[k], kind: "presence" });
      else out.push(...diff(a[k], b[k], p));
    }
    return out;
  }
  if (a !== b) out.push({ path, ref: a, gh: b, kind: "value" });
  return out;
}

function kind(v) {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return "array";
  return typeof v;
}
