// The reference side of the differential test: `betterAuth({...})` from the
// pinned npm package, configured like Gatehouse's defaults, on node:http.
//
// Configuration comes from the environment (run.mjs sets it):
//   REF_PORT        port to listen on (127.0.0.1)
//   REF_BASE_URL    public base URL, http://localhost:<port> (same form as Gatehouse's; a
//                   passkey relying party must be a domain)
//   REF_DB          SQLite file (created and migrated here)
//   REF_SECRET      secret (same shape as GATEHOUSE_SECRET)
//   REF_SMTP_PORT   the shared SMTP sink on 127.0.0.1
//   REF_MAIL_FROM   envelope/header From, so the sink can tell the two servers apart
//   REF_APP_NAME    appName (Gatehouse's app_name; the TOTP issuer defaults to it)
//   REF_ADMIN_EMAIL, REF_ADMIN_PASSWORD
//                   the operator account, created with the `admin` role and a verified
//                   address (Gatehouse: GATEHOUSE_ADMIN_EMAIL / GATEHOUSE_ADMIN_PASSWORD)
//   (organization: teams and dynamic access control on, invitations mailed with the link
//   <baseURL>/accept-invitation/<id>, as Gatehouse's default invitation_url)
//   REF_OIDC_DISCOVERY, REF_OIDC_SECRET
//                   optional: genericOAuth provider "local-oidc" (client id "local-oidc") from
//                   this discovery URL (Gatehouse: [generic_oauth.local-oidc])
//   REF_GITHUB_URL  optional: the GitHub-shaped server; socialProviders.github points there
//                   (authorizationEndpoint, plus a fetch shim for the URLs Better Auth
//                   hard-codes; Gatehouse: [social.github] with URL overrides)
//   (oauth-provider: jwt() plus oauthProvider with loginPage /sign-in, consentPage /consent and
//   dynamic client registration on, as Gatehouse's [oauth_provider] in run.mjs's TOML; the base
//   URL as its one resource, for any client, as Gatehouse's default valid_audiences)
//   REF_SHORT_SECS  optional: session.freshAge and the lifetimes of the email-OTP code, the
//                   magic link, the reset link and the verification link, in seconds (the
//                   "short" pair; Gatehouse gets the same in its TOML)
//
// Prints one line `READY <baseURL>` on stdout when it answers requests.

import http from "node:http";

import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { admin, anonymous, bearer, emailOTP, genericOAuth, jwt, magicLink, multiSession, openAPI, organization, phoneNumber, twoFactor, username } from "better-auth/plugins";
import { createAccessControl } from "better-auth/plugins/access";
import { adminAc, defaultStatements, memberAc, ownerAc } from "better-auth/plugins/organization/access";
import { passkey } from "@better-auth/passkey";
import { apiKey } from "@better-auth/api-key";
import { oauthProvider } from "@better-auth/oauth-provider";
import nodemailer from "nodemailer";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`reference-server: ${name} is not set`);
  return v;
};

const port = Number(env("REF_PORT"));
const baseURL = env("REF_BASE_URL");
const from = env("REF_MAIL_FROM");
const appName = process.env.REF_APP_NAME || "Gatehouse";
const shortSecs = process.env.REF_SHORT_SECS ? Number(process.env.REF_SHORT_SECS) : null;
const life = (dflt) => shortSecs ?? dflt;

const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(env("REF_SMTP_PORT")),
  secure: false,
  ignoreTLS: true,
});

async function mail(to, subject, text) {
  await transport.sendMail({ from, to, subject, text });
}

// Text messages go to the harness's relay as {to, code, kind}, as Gatehouse's
// [phone_number.sms] sender posts them (unsigned here).
const smsURL = env("REF_SMS_URL");
async function sms(to, code, kind) {
  await fetch(smsURL, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ to, code, kind }) });
}

// Better Auth hard-codes GitHub's token and API URLs; better-fetch resolves
// globalThis.fetch per call, so this shim retargets them to the local server.
const githubURL = process.env.REF_GITHUB_URL;
if (githubURL) {
  const rewrite = [
    ["https://github.com/login/oauth/access_token", `${githubURL}/login/oauth/access_token`],
    ["https://api.github.com/", `${githubURL}/`],
  ];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    let url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    for (const [from, to] of rewrite) if (url.startsWith(from)) url = to + url.slice(from.length);
    return realFetch(typeof input === "string" || input instanceof URL ? url : new Request(url, input), init);
  };
}
const oidcDiscovery = process.env.REF_OIDC_DISCOVERY;

const options = {
  appName,
  baseURL,
  secret: env("REF_SECRET"),
  database: new Database(env("REF_DB")),
  telemetry: { enabled: false },
  rateLimit: { enabled: false },
  // Gatehouse: [session] fresh_age (default 86400, as Better Auth's freshAge).
  ...(shortSecs ? { session: { freshAge: shortSecs } } : {}),
  emailAndPassword: {
    enabled: true,
    minPasswordLength: 8,
    maxPasswordLength: 128,
    autoSignIn: true,
    requireEmailVerification: false,
    resetPasswordTokenExpiresIn: life(3600),
    sendResetPassword: async ({ user, url }) => mail(user.email, `Reset your password for ${appName}`, `Open ${url}`),
  },
  emailVerification: {
    // Gatehouse: send_on_sign_up follows require_email_verification (false).
    autoSignInAfterVerification: false,
    expiresIn: life(3600),
    sendVerificationEmail: async ({ user, url }) => mail(user.email, `Verify your email for ${appName}`, `Open ${url}`),
  },
  user: {
    // Gatehouse: [user] delete_enabled, delete_email_confirmation, change_email_enabled
    // (set in run.mjs's TOML).
    deleteUser: {
      enabled: true,
      sendDeleteAccountVerification: async ({ user, url }) => mail(user.email, `Confirm deleting your ${appName} account`, `Open ${url}`),
    },
    changeEmail: { enabled: true },
  },
  ...(githubURL
    ? {
        socialProviders: {
          github: {
            clientId: "github-client",
            clientSecret: "github-secret",
            authorizationEndpoint: `${githubURL}/login/oauth/authorize`,
          },
        },
      }
    : {}),
  plugins: [
    ...(oidcDiscovery
      ? [
          genericOAuth({
            config: [
              {
                providerId: "local-oidc",
                discoveryUrl: oidcDiscovery,
                clientId: "local-oidc",
                clientSecret: env("REF_OIDC_SECRET"),
                scopes: ["openid", "email", "profile"],
              },
            ],
          }),
        ]
      : []),
    username(),
    bearer(),
    openAPI(),
    magicLink({
      expiresIn: life(300),
      sendMagicLink: async ({ email, url }) => mail(email, `Sign in to ${appName}`, `Open ${url}`),
    }),
    emailOTP({
      otpLength: 6,
      expiresIn: life(300),
      allowedAttempts: 3,
      sendVerificationOTP: async ({ email, otp, type }) => mail(email, `Your ${type} code for ${appName}`, `Your code is ${otp}`),
    }),
    twoFactor({
      otpOptions: {
        sendOTP: async ({ user, otp }) => mail(user.email, `Your sign-in code for ${appName}`, `Your code is ${otp}`),
      },
    }),
    admin(),
    // Gatehouse: [organization] teams, dynamic_access_control (run.mjs's TOML); its
    // default invitation_url is {base_url}/accept-invitation/{id}, built alike here.
    organization({
      teams: { enabled: true },
      dynamicAccessControl: { enabled: true },
      // Dynamic access control needs an explicit `ac`: Better Auth's default statements and
      // roles, which are Gatehouse's built-in ones.
      ac: createAccessControl(defaultStatements),
      roles: { owner: ownerAc, admin: adminAc, member: memberAc },
      sendInvitationEmail: async ({ id, email, organization: org, inviter, role }) =>
        mail(
          email,
          `You are invited to join ${org.name} on ${appName}`,
          `${inviter.user.name} (${inviter.user.email}) invited ${email} to join ${org.name} on ${appName} as ${role}. To accept, open:\n\n${baseURL}/accept-invitation/${id}\n`,
        ),
    }),
    // oauthProvider (below) requires it; Gatehouse: the jwt plugin.
    jwt(),
    multiSession(),
    anonymous(),
    // Gatehouse: [phone_number] defaults, sign_up_on_verification with temp_email_domain,
    // and [phone_number.sms] (run.mjs's TOML). Gatehouse validates numbers against
    // libphonenumber's metadata; Better Auth leaves it to phoneNumberValidator, here a
    // plain E.164 shape, and the scenarios use valid E.164 numbers.
    phoneNumber({
      otpLength: 6,
      expiresIn: life(300),
      allowedAttempts: 3,
      phoneNumberValidator: (n) => /^\+[1-9]\d{7,14}$/.test(n),
      sendOTP: async ({ phoneNumber: to, code }) => sms(to, code, "phone-verification"),
      sendPasswordResetOTP: async ({ phoneNumber: to, code }) => sms(to, code, "password-reset"),
      signUpOnVerification: {
        getTempEmail: (n) => `${n.replace(/\D/g, "")}@phone.example.com`,
      },
    }),
    // Gatehouse: [passkey] rp_id, rp_name, origin (run.mjs's TOML).
    passkey({
      rpID: new URL(baseURL).hostname,
      rpName: appName,
      origin: new URL(baseURL).origin,
    }),
    // Gatehouse: [api_key] enable_session_for_api_keys, enable_metadata (run.mjs's TOML).
    apiKey({ enableSessionForAPIKeys: true, enableMetadata: true }),
    // Gatehouse: [oauth_provider] login_page, consent_page,
    // allow_dynamic_client_registration (run.mjs's TOML); the rest are the defaults
    // of both (scopes openid profile email offline_access, codes 600 s, access
    // tokens 3600 s, refresh tokens 30 days, ID tokens 36000 s).
    oauthProvider({
      loginPage: "/sign-in",
      consentPage: "/consent",
      allowDynamicClientRegistration: true,
      allowUnauthenticatedClientRegistration: false,
      // Gatehouse sends prompt=select_account to its login page and never asks
      // otherwise; Better Auth refuses that prompt unless a page is set.
      selectAccount: { page: "/sign-in", shouldRedirect: async () => false },
      scopes: ["openid", "profile", "email", "offline_access"],
      codeExpiresIn: 600,
      accessTokenExpiresIn: 3600,
      m2mAccessTokenExpiresIn: 3600,
      refreshTokenExpiresIn: 30 * 24 * 3600,
      idTokenExpiresIn: 36000,
      // Gatehouse's default valid audience (RFC 8707 `resource`, which makes the
      // access token a JWT) is its base URL, for any client; Better Auth knows only
      // the resources it is given, each linked to clients unless this is off.
      resources: [baseURL],
      enforcePerClientResources: false,
    }),
  ],
};

const { runMigrations } = await getMigrations(options);
await runMigrations();

const auth = betterAuth(options);

// The bootstrap admin Gatehouse creates from GATEHOUSE_ADMIN_EMAIL/_PASSWORD.
{
  const email = env("REF_ADMIN_EMAIL");
  await auth.api.createUser({
    body: { email, password: env("REF_ADMIN_PASSWORD"), name: email.split("@")[0], role: "admin", data: { emailVerified: true } },
  });
}
const handler = toNodeHandler(auth);

const server = http.createServer((req, res) => {
  if (req.url === "/api/auth" || req.url.startsWith("/api/auth/") || req.url.startsWith("/api/auth?")) {
    handler(req, res);
    return;
  }
  // Not Better Auth's: what an app built on it would do on its server. Better
  // Auth lets a client initiate logout (/oauth2/end-session) only with
  // enable_end_session, which only the server-side adminUpdateOAuthClient sets
  // (it needs the owner's session, so the caller's cookie goes along).
  // oauth-provider/end-session calls it on this side only; Gatehouse has no such
  // flag to set (it does not check it).
  if (req.method === "POST" && req.url === "/compat/enable-end-session") {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", async () => {
      try {
        const { client_id } = JSON.parse(raw);
        const headers = new Headers({ cookie: req.headers.cookie ?? "" });
        const r = await auth.api.adminUpdateOAuthClient({ body: { client_id, update: { enable_end_session: true } }, headers });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ enable_end_session: r?.enable_end_session ?? null }));
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e?.message ?? e));
      }
    });
    return;
  }
  res.statusCode = 404;
  res.end();
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`READY ${baseURL}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
