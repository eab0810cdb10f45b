// The scenarios. Each runs once per server with the same inputs; `t` gives it
// actors, generated names, mail and codes for that side. A scenario returns
// what the client observed beyond the wire (cookie jar contents, whether a
// mail came, ...); everything it sent is recorded in the transport trace.
//
// Keep inputs deterministic: names and emails come from t.email(tag), which
// depends only on the scenario id and the seed.

import { createHash, generateKeyPairSync } from "node:crypto";

import { signPrivateKeyJwtClientAssertion } from "@better-auth/core/oauth2";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";

import { FLAGS, SoftAuthenticator } from "./lib/webauthn.mjs";

export const scenarios = [];
/**
 * scenario(id, fn) or scenario(id, { servers }, fn). servers: "default" (the
 * servers with their defaults) or "short" (freshness and every link/code
 * lifetime 2 s; see run.mjs).
 */
const scenario = (id, o, fn) => (typeof o === "function" ? scenarios.push({ id, fn: o }) : scenarios.push({ id, ...o, fn }));

const PW = "correct-horse-9";
const PW2 = "battery-staple-7";

/** Signs up a fresh user with a new actor; returns { a, email }. */
async function signedUp(t, tag = "u", extra = {}) {
  const a = t.actor(tag);
  const email = t.email(tag);
  await a.client.signUp.email({ name: `User ${tag}`, email, password: PW, ...extra });
  return { a, email };
}

// ---------------------------------------------------------------- core

scenario("core/ok-and-unknown-route", async (t) => {
  const a = t.actor("a");
  await a.client.$fetch("/ok", { method: "GET" });
  await a.request("GET", "/no-such-route");
  await a.request("DELETE", "/get-session");
});

scenario("core/sign-up-session-sign-out", async (t) => {
  const a = t.actor("a");
  const email = t.email("Mixed.Case").replace(/^m/, "M");
  await a.client.signUp.email({ name: "Alice Compat", email, password: PW });
  const jarAfterSignUp = a.cookieNames();
  await a.client.getSession();
  await a.client.signOut();
  const jarAfterSignOut = a.cookieNames();
  await a.client.getSession();
  return { jarAfterSignUp, jarAfterSignOut };
});

scenario("core/sign-in", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  await a.client.signIn.email({ email, password: "wrong-password-1" });
  await a.client.signIn.email({ email: t.email("nobody"), password: PW });
  await a.client.signIn.email({ email: "not-an-email", password: PW });
  await a.client.signIn.email({ email, password: PW });
  await a.client.getSession();
  await a.client.signOut();
  await a.client.signIn.email({ email, password: PW, rememberMe: false, callbackURL: "/dash" });
  const jarRememberMeFalse = a.cookieNames();
  await a.client.getSession();
  await a.client.signOut();
  return { jarRememberMeFalse, jarAfterSignOut: a.cookieNames() };
});

scenario("core/sign-up-errors", async (t) => {
  const { a, email } = await signedUp(t);
  const b = t.actor("b");
  await b.client.signUp.email({ name: "Dup", email, password: PW });
  await b.client.signUp.email({ name: "Dup", email: email.toUpperCase(), password: PW });
  await b.client.signUp.email({ name: "Short", email: t.email("short"), password: "short" });
  await b.client.signUp.email({ name: "Long", email: t.email("long"), password: "x".repeat(129) });
  await b.client.signUp.email({ name: "Bad", email: "not-an-email", password: PW });
  await b.client.$fetch("/sign-up/email", { method: "POST", body: { email: "bad", password: "" } });
  return { jarB: b.cookieNames(), jarA: a.cookieNames() };
});

scenario("core/sessions-list-revoke", async (t) => {
  const { a, email } = await signedUp(t);
  const b = t.actor("b");
  const c = t.actor("c");
  await b.client.signIn.email({ email, password: PW });
  await c.client.signIn.email({ email, password: PW });
  const listed = await a.client.listSessions();
  const mine = (await a.client.getSession()).data?.session?.token;
  const bTok = (await b.client.getSession()).data?.session?.token;
  const others = (listed.data ?? []).filter((s) => s.token !== mine);
  // Revoke b's session by the value list-sessions gave for it.
  const bEntry = (listed.data ?? []).find((s) => s.token === bTok) ?? others[0];
  await a.client.revokeSession({ token: bEntry?.token ?? "missing" });
  await b.client.getSession();
  await a.client.revokeSession({ token: "not-a-session-token" });
  await a.client.revokeOtherSessions();
  await c.client.getSession();
  await a.client.getSession();
  await a.client.revokeSessions();
  await a.client.getSession();
  return {
    listedCount: listed.data?.length ?? null,
    listedTokensEqualSessionTokens: (listed.data ?? []).map((s) => s.token === mine || s.token === bTok).sort(),
  };
});

scenario("core/update-user", async (t) => {
  const { a } = await signedUp(t);
  await a.client.updateUser({ name: "Renamed", image: "https://example.com/a.png" });
  await a.client.getSession();
  await a.client.updateUser({ email: t.email("other") });
  await a.client.$fetch("/update-user", { method: "POST", body: {} });
  await a.client.updateUser({ image: null });
  const anon = t.actor("anon");
  await anon.client.updateUser({ name: "x" });
});

scenario("core/change-password", async (t) => {
  const { a, email } = await signedUp(t);
  const b = t.actor("b");
  await b.client.signIn.email({ email, password: PW });
  await a.client.changePassword({ currentPassword: "wrong-password-1", newPassword: PW2 });
  await a.client.changePassword({ currentPassword: PW, newPassword: "short" });
  await a.client.changePassword({ currentPassword: PW, newPassword: PW2 });
  await b.client.getSession();
  await a.client.changePassword({ currentPassword: PW2, newPassword: PW, revokeOtherSessions: true });
  await b.client.getSession();
  await a.client.getSession();
  const c = t.actor("c");
  await c.client.signIn.email({ email, password: PW2 });
  await c.client.signIn.email({ email, password: PW });
  await t.actor("anon").client.changePassword({ currentPassword: PW, newPassword: PW2 });
});

scenario("core/untrusted-origin", async (t) => {
  const { a, email } = await signedUp(t);
  // Same cookies, different Origin: a forged cross-site request.
  const evil = t.actor("evil", { origin: "http://evil.example" });
  const none = t.actor("no-origin", { origin: null });
  const cookie = a.jar.header();
  await evil.fetch(`${t.base}/update-user`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ name: "pwned" }),
  });
  await none.fetch(`${t.base}/update-user`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ name: "pwned" }),
  });
  // No cookies: sign-in/sign-up from a foreign page.
  await evil.client.signIn.email({ email, password: PW });
  await evil.client.signUp.email({ name: "E", email: t.email("evil"), password: PW });
  // Trusted origin, untrusted callback URLs.
  await a.client.signIn.email({ email, password: PW, callbackURL: "http://evil.example/x" });
  await a.client.requestPasswordReset({ email, redirectTo: "http://evil.example/reset" });
  await a.client.sendVerificationEmail({ email, callbackURL: "http://evil.example/v" });
  await a.client.getSession();
});

scenario("core/verify-email-link", async (t) => {
  const { a, email } = await signedUp(t);
  const noMailOnSignUp = (await t.mail(email, 1500)) === null;
  await a.client.sendVerificationEmail({ email, callbackURL: "/verified" });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { noMailOnSignUp, link: "no mail" };
  const linkForm = t.linkForm(link);
  await a.request("GET", link);
  await a.client.getSession();
  // The same link opened a second time.
  await a.request("GET", link);
  const anon = t.actor("anon");
  await anon.request("GET", link);
  await a.client.sendVerificationEmail({ email, callbackURL: "/verified" });
  return { noMailOnSignUp, linkForm };
});

scenario("core/verify-email-json-and-bad-tokens", async (t) => {
  const { a, email } = await signedUp(t);
  // Asked for in the registrant's own session, opened signed out.
  await a.client.sendVerificationEmail({ email });
  await a.client.signOut();
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  const token = new URL(link).searchParams.get("token");
  const tampered = token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA");
  await a.client.verifyEmail({ query: { token: tampered } });
  await a.client.verifyEmail({ query: { token: tampered, callbackURL: "/v" } });
  await a.client.verifyEmail({ query: { token: "abc" } });
  // Better Auth's token format (an HS256 JWT signed with the shared secret),
  // expired an hour ago; and a valid one for an address nobody has.
  const expired = t.jwt({ email: email.toLowerCase() }, -3600);
  await a.client.verifyEmail({ query: { token: expired } });
  await a.client.verifyEmail({ query: { token: expired, callbackURL: "/v" } });
  await a.client.verifyEmail({ query: { token: t.jwt({ email: t.email("ghost") }, 3600) } });
  await a.client.verifyEmail({ query: { token } });
  await a.client.verifyEmail({ query: { token } });
  await a.client.verifyEmail({ query: { token, callbackURL: "http://evil.example/" } });
  await a.client.signIn.email({ email, password: PW });
  await a.client.getSession();
});

scenario("core/verify-email-asked-by-address", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  // Signed out: always {status:true}, and a mail only for real, unverified users.
  await a.client.sendVerificationEmail({ email: t.email("nobody") });
  const noMailForUnknown = (await t.mail(t.email("nobody"), 1500)) === null;
  await a.client.sendVerificationEmail({ email });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { noMailForUnknown, link: "no mail" };
  const other = t.actor("owner");
  await other.request("GET", link);
  // The address's owner proved it without the registrant's session: Gatehouse
  // removes the password set at registration (README, Security notes).
  await a.client.signIn.email({ email, password: PW });
  await a.client.getSession();
  return { noMailForUnknown };
});

scenario("core/password-reset", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  await a.client.requestPasswordReset({ email: t.email("nobody"), redirectTo: "/reset" });
  await a.client.requestPasswordReset({ email, redirectTo: "/reset" });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  const linkForm = t.linkForm(link);
  const opened = await a.request("GET", link);
  const token = new URL(opened.location ?? "/", "http://x").searchParams.get("token");
  await a.request("GET", "/reset-password/not-a-real-token?callbackURL=%2Freset");
  await a.request("GET", "/reset-password/not-a-real-token");
  await a.client.resetPassword({ newPassword: "short", token });
  await a.client.resetPassword({ newPassword: PW2 });
  await a.client.resetPassword({ newPassword: PW2, token });
  await a.client.resetPassword({ newPassword: PW2, token });
  await a.client.signIn.email({ email, password: PW });
  await a.client.signIn.email({ email, password: PW2 });
  return { linkForm, tokenFromRedirect: typeof token === "string" && token.length > 0 };
});

scenario("core/change-email", async (t) => {
  const { a, email } = await signedUp(t);
  const newEmail = t.email("new");
  await a.client.changeEmail({ newEmail: email, callbackURL: "/changed" });
  await a.client.changeEmail({ newEmail, callbackURL: "/changed" });
  const link = t.linkIn(await t.mail(newEmail));
  if (!link) return { link: "no mail" };
  const linkForm = t.linkForm(link);
  await a.request("GET", link);
  await a.client.getSession();
  await a.client.signIn.email({ email: newEmail, password: PW });
  return { linkForm };
});

scenario("core/delete-user", async (t) => {
  // Both servers confirm a deletion by mail: the right password mails a link
  // and the account stays until it is followed (core/delete-user-callback).
  const { a, email } = await signedUp(t);
  await a.client.deleteUser({ password: "wrong-password-1" });
  await a.client.deleteUser({ password: PW });
  const mailed = (await t.mail(email)) !== null;
  await a.client.getSession();
  await a.client.signIn.email({ email, password: PW });
  return { jar: a.cookieNames(), mailed };
});

scenario("core/bearer", async (t) => {
  const { a } = await signedUp(t);
  const token = a.authToken;
  const b = t.actor("bearer", { noCookies: true });
  await b.client.getSession({ fetchOptions: { headers: { authorization: `Bearer ${token}` } } });
  await b.client.getSession({ fetchOptions: { headers: { authorization: `Bearer ${token?.split(".")[0]}` } } });
  await b.client.getSession({ fetchOptions: { headers: { authorization: `Bearer ${token?.split(".")[0]}.AAAA${"A".repeat(39)}=` } } });
  await b.client.updateUser({ name: "Via Bearer" }, { headers: { authorization: `Bearer ${token}` } });
  return { hadSetAuthToken: typeof token === "string" };
});

// ---------------------------------------------------------------- username

scenario("username/sign-up-sign-in", async (t) => {
  const a = t.actor("a");
  const email = t.email("a");
  await a.client.signUp.email({ name: "U", email, password: PW, username: "Compat_User" });
  await a.client.getSession();
  await a.client.signOut();
  await a.client.signIn.username({ username: "compat_user", password: PW });
  await a.client.signOut();
  await a.client.signIn.username({ username: "COMPAT_USER", password: "wrong-password-1" });
  await a.client.signIn.username({ username: "nobody_here", password: PW });
  await a.client.signIn.username({ username: "ab", password: PW });
  await a.client.signIn.username({ username: "bad name!", password: PW });
  await a.client.isUsernameAvailable({ username: "compat_user" });
  await a.client.isUsernameAvailable({ username: "free_name" });
  await a.client.isUsernameAvailable({ username: "ab" });
});

scenario("username/sign-up-errors", async (t) => {
  const a = t.actor("a");
  await a.client.signUp.email({ name: "U", email: t.email("a"), password: PW, username: "taken_name" });
  const b = t.actor("b");
  await b.client.signUp.email({ name: "U", email: t.email("b"), password: PW, username: "Taken_Name" });
  await b.client.signUp.email({ name: "U", email: t.email("c"), password: PW, username: "ab" });
  await b.client.signUp.email({ name: "U", email: t.email("d"), password: PW, username: "x".repeat(31) });
  await b.client.signUp.email({ name: "U", email: t.email("e"), password: PW, username: "bad name!" });
  await a.client.updateUser({ username: "New_Name" });
  await a.client.getSession();
  await a.client.updateUser({ username: "ab" });
  await a.client.updateUser({ displayUsername: "Shown Name" });
  await a.client.getSession();
});

// ---------------------------------------------------------------- magic link

scenario("magic-link/verify-json", async (t) => {
  const a = t.actor("a");
  const email = t.email("a");
  await a.client.signIn.magicLink({ email, name: "Magic User" });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  const linkForm = t.linkForm(link);
  const token = new URL(link).searchParams.get("token");
  await a.client.magicLink.verify({ query: { token } });
  await a.client.getSession();
  // Used once already.
  await a.client.magicLink.verify({ query: { token } });
  await a.client.magicLink.verify({ query: { token: "nope" } });
  return { linkForm, jar: a.cookieNames() };
});

scenario("magic-link/redirects", async (t) => {
  const a = t.actor("a");
  const email = t.email("a");
  await a.client.signIn.magicLink({ email, callbackURL: "/ml", newUserCallbackURL: "/welcome", errorCallbackURL: "/ml-error" });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  const linkForm = t.linkForm(link);
  await a.request("GET", link);
  await a.request("GET", link);
  await a.client.signOut();
  // Existing user now: callbackURL, not newUserCallbackURL.
  await a.client.signIn.magicLink({ email, callbackURL: "/ml", newUserCallbackURL: "/welcome" });
  const link2 = t.linkIn(await t.mail(email));
  if (link2) await a.request("GET", link2);
  await a.client.getSession();
  await a.client.signIn.magicLink({ email, callbackURL: "http://evil.example/" });
  await a.client.signIn.magicLink({ email: "not-an-email" });
  return { linkForm };
});

scenario("magic-link/unverified-existing-user", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  await a.client.signIn.magicLink({ email });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  await a.client.magicLink.verify({ query: { token: new URL(link).searchParams.get("token") } });
  await a.client.getSession();
  await a.client.signOut();
  // The password account of the unproven sign-up is gone.
  await a.client.signIn.email({ email, password: PW });
});

// ---------------------------------------------------------------- email OTP

scenario("email-otp/verify-email", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.emailOtp.sendVerificationOtp({ email, type: "email-verification" });
  const otp = t.codeIn(await t.mail(email));
  if (!otp) return { otp: "no mail" };
  const wrong = otp === "000000" ? "111111" : "000000";
  await a.client.emailOtp.checkVerificationOtp({ email, type: "email-verification", otp: wrong });
  await a.client.emailOtp.checkVerificationOtp({ email, type: "email-verification", otp });
  await a.client.emailOtp.verifyEmail({ email, otp: wrong });
  await a.client.emailOtp.verifyEmail({ email, otp });
  await a.client.getSession();
  await a.client.emailOtp.verifyEmail({ email, otp });
  return { jar: a.cookieNames() };
});

scenario("email-otp/too-many-attempts", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.emailOtp.sendVerificationOtp({ email, type: "email-verification" });
  const otp = t.codeIn(await t.mail(email));
  if (!otp) return { otp: "no mail" };
  const wrong = otp === "000000" ? "111111" : "000000";
  for (let i = 0; i < 4; i++) await a.client.emailOtp.verifyEmail({ email, otp: wrong });
  await a.client.emailOtp.verifyEmail({ email, otp });
});

scenario("email-otp/sign-in", async (t) => {
  const a = t.actor("a");
  const email = t.email("a");
  await a.client.emailOtp.sendVerificationOtp({ email, type: "sign-in" });
  const otp = t.codeIn(await t.mail(email));
  if (!otp) return { otp: "no mail" };
  await a.client.signIn.emailOtp({ email, otp: otp === "000000" ? "111111" : "000000" });
  await a.client.signIn.emailOtp({ email, otp });
  await a.client.getSession();
  await a.client.signIn.emailOtp({ email, otp });
  await a.client.emailOtp.sendVerificationOtp({ email: t.email("nobody"), type: "email-verification" });
  const noMailForUnknown = (await t.mail(t.email("nobody"), 1500)) === null;
  await a.client.emailOtp.sendVerificationOtp({ email: "not-an-email", type: "sign-in" });
  await a.client.emailOtp.sendVerificationOtp({ email, type: "change-email" });
  return { noMailForUnknown };
});

scenario("email-otp/password-reset", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  await a.client.emailOtp.requestPasswordReset({ email });
  let otp = t.codeIn(await t.mail(email, 3000));
  const mailedByRequestPasswordReset = otp !== null;
  if (!otp) {
    // Carry on with the deprecated alias so the rest is still compared.
    await a.client.forgetPassword.emailOtp({ email });
    otp = t.codeIn(await t.mail(email));
  }
  if (!otp) return { otp: "no mail" };
  await a.client.emailOtp.resetPassword({ email, otp: otp === "000000" ? "111111" : "000000", password: PW2 });
  await a.client.emailOtp.resetPassword({ email, otp, password: "short" });
  await a.client.emailOtp.resetPassword({ email, otp, password: PW2 });
  await a.client.emailOtp.resetPassword({ email, otp, password: PW2 });
  await a.client.signIn.email({ email, password: PW });
  await a.client.signIn.email({ email, password: PW2 });
  await a.client.signOut();
  // The deprecated alias still answers.
  await a.client.forgetPassword.emailOtp({ email });
  const aliasMailed = (await t.mail(email)) !== null;
  return { mailedByRequestPasswordReset, aliasMailed };
});

// ---------------------------------------------------------------- two-factor

/** Signs up, enables TOTP and completes enablement; returns { a, email, uri, backupCodes }. */
async function withTotp(t) {
  const { a, email } = await signedUp(t);
  const enabled = await a.client.twoFactor.enable({ password: PW });
  const uri = enabled.data?.totpURI;
  const backupCodes = enabled.data?.backupCodes ?? [];
  const firstCode = uri ? await t.totp(uri, 0) : null;
  if (uri) await a.client.twoFactor.verifyTotp({ code: firstCode });
  return { a, email, uri, backupCodes, firstCode };
}

scenario("two-factor/enable-totp", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.twoFactor.enable({ password: "wrong-password-1" });
  const enabled = await a.client.twoFactor.enable({ password: PW });
  const uri = enabled.data?.totpURI;
  if (!uri) return { uri: "none" };
  await a.client.twoFactor.getTotpUri({ password: PW });
  await a.client.twoFactor.getTotpUri({ password: "wrong-password-1" });
  await a.client.getSession();
  await a.client.twoFactor.verifyTotp({ code: "000000" === (await t.totp(uri, 0)) ? "111111" : "000000" });
  await a.client.twoFactor.verifyTotp({ code: await t.totp(uri, 0) });
  await a.client.getSession();
  await a.client.signOut();
  await a.client.signIn.email({ email, password: PW });
  const jarDuringChallenge = a.cookieNames();
  await a.client.getSession();
  await a.client.twoFactor.verifyTotp({ code: "000000" === (await t.totp(uri, 1)) ? "111111" : "000000" });
  // The next step's code (inside the ±1 window): not the one used above.
  await a.client.twoFactor.verifyTotp({ code: await t.totp(uri, 1) });
  await a.client.getSession();
  return { jarDuringChallenge, jarAfter: a.cookieNames() };
});

scenario("two-factor/totp-code-replay", async (t) => {
  const { a, email, uri, firstCode } = await withTotp(t);
  if (!uri) return { uri: "none" };
  await a.client.signOut();
  await a.client.signIn.email({ email, password: PW });
  // The code already used to finish enablement, replayed (still inside the ±1 step window).
  await a.client.twoFactor.verifyTotp({ code: firstCode });
});

scenario("two-factor/backup-codes-and-disable", async (t) => {
  const { a, email, uri, backupCodes } = await withTotp(t);
  if (!uri) return { uri: "none" };
  await a.client.signOut();
  await a.client.signIn.email({ email, password: PW });
  await a.client.twoFactor.verifyBackupCode({ code: "AAAAA-BBBBB" });
  await a.client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  await a.client.getSession();
  await a.client.signOut();
  await a.client.signIn.email({ email, password: PW });
  await a.client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  await a.client.twoFactor.verifyBackupCode({ code: backupCodes[1] });
  await a.client.twoFactor.generateBackupCodes({ password: "wrong-password-1" });
  await a.client.twoFactor.generateBackupCodes({ password: PW });
  await a.client.twoFactor.disable({ password: "wrong-password-1" });
  await a.client.twoFactor.disable({ password: PW });
  await a.client.getSession();
  await a.client.signOut();
  await a.client.signIn.email({ email, password: PW });
  return { backupCodeCount: backupCodes.length };
});

scenario("two-factor/email-otp-and-trust-device", async (t) => {
  const { a, email, uri } = await withTotp(t);
  if (!uri) return { uri: "none" };
  await a.client.signOut();
  const b = t.actor("b");
  await b.client.signIn.email({ email, password: PW });
  await b.client.twoFactor.sendOtp();
  const code = t.codeIn(await t.mail(email));
  if (!code) return { code: "no mail" };
  await b.client.twoFactor.verifyOtp({ code: code === "000000" ? "111111" : "000000" });
  await b.client.twoFactor.verifyOtp({ code, trustDevice: true });
  const jarTrusted = b.cookieNames();
  await b.client.signOut();
  // The trusted device skips the second factor.
  await b.client.signIn.email({ email, password: PW });
  await b.client.getSession();
  // Without a challenge cookie.
  const c = t.actor("c");
  await c.client.twoFactor.verifyTotp({ code: "123456" });
  return { jarTrusted };
});

// ---------------------------------------------------------------- accounts, passwords, pages

scenario("core/list-accounts", async (t) => {
  const { a } = await signedUp(t);
  await a.client.listAccounts();
  await t.actor("anon").client.listAccounts();
});

scenario("core/set-password", async (t) => {
  // Better Auth keeps setPassword server-only (no HTTP route); Gatehouse serves
  // it behind a fresh session (README, Security notes).
  const { a } = await signedUp(t);
  await a.request("POST", "/set-password", { body: { newPassword: PW2 } });
  await t.actor("anon").request("POST", "/set-password", { body: { newPassword: PW2 } });
  // A user without a password (signed up by magic link) sets one, then signs in with it.
  const m = t.actor("m");
  const email = t.email("m");
  await m.client.signIn.magicLink({ email });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  await m.client.magicLink.verify({ query: { token: new URL(link).searchParams.get("token") } });
  await m.request("POST", "/set-password", { body: { newPassword: "short" } });
  await m.request("POST", "/set-password", { body: { newPassword: PW2 } });
  await t.actor("m2").client.signIn.email({ email, password: PW2 });
});

scenario("core/forget-password", async (t) => {
  // The pre-1.7 name of request-password-reset.
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  await a.request("POST", "/forget-password", { body: { email, redirectTo: "/reset" } });
  const mailed = (await t.mail(email, 3000)) !== null;
  return { mailed };
});

scenario("core/error-page", async (t) => {
  const a = t.actor("a");
  await a.request("GET", "/error", { compareBody: false });
  await a.request("GET", "/error?error=invalid_code&error_description=Something%20failed", { compareBody: false });
});

scenario("core/delete-user-callback", async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.deleteUser({ password: "wrong-password-1" });
  await a.client.deleteUser({ password: PW, callbackURL: "/bye" });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  const linkForm = t.linkForm(link);
  const u = new URL(link);
  const token = u.searchParams.get("token");
  const tampered = token.slice(0, -3) + (token.endsWith("aaa") ? "bbb" : "aaa");
  // A tampered token, then the real link opened signed out.
  await a.request("GET", `/delete-user/callback?token=${tampered}&callbackURL=%2Fbye`);
  await t.actor("anon").request("GET", link);
  await a.client.getSession();
  // Opened in the user's own session: deleted, then redirected.
  await a.request("GET", link);
  await a.client.getSession();
  await a.request("GET", link);
  await a.client.signIn.email({ email, password: PW });
  // Without callbackURL: a JSON answer.
  const { a: b, email: emailB } = await signedUp(t, "b");
  await b.client.deleteUser({ password: PW });
  const linkB = t.linkIn(await t.mail(emailB));
  if (!linkB) return { linkForm, linkB: "no mail" };
  const linkFormB = t.linkForm(linkB);
  await b.request("GET", `/delete-user/callback?token=${new URL(linkB).searchParams.get("token")}`);
  await b.client.getSession();
  return { linkForm, linkFormB, jarA: a.cookieNames(), jarB: b.cookieNames() };
});

// ---------------------------------------------------------------- passkeys


scenario("passkey/options-and-errors", async (t) => {
  const anon = t.actor("anon");
  await anon.client.passkey.generateAuthenticateOptions();
  await anon.client.passkey.generateRegisterOptions();
  await anon.client.passkey.listUserPasskeys();
  await anon.client.passkey.updatePasskey({ id: "no-such-passkey", name: "x" });
  await anon.client.passkey.deletePasskey({ id: "no-such-passkey" });
  // The challenge cookie from generate-authenticate-options above, a malformed response.
  await anon.client.passkey.verifyAuthentication({ response: { id: "AAAA", type: "public-key" } });
  // The challenge was spent (or there never was one): no challenge.
  await anon.client.passkey.verifyAuthentication({ response: { id: "AAAA", type: "public-key" } });

  const { a, email } = await signedUp(t);
  await a.client.passkey.generateRegisterOptions();
  await a.client.passkey.generateRegisterOptions({ query: { authenticatorAttachment: "cross-platform", name: "Named" } });
  await a.client.passkey.listUserPasskeys();
  await a.client.passkey.generateAuthenticateOptions();
  await a.client.passkey.updatePasskey({ id: "no-such-passkey", name: "renamed" });
  await a.client.passkey.deletePasskey({ id: "no-such-passkey" });
  // A malformed registration response against a live registration challenge.
  await a.client.passkey.generateRegisterOptions();
  await a.client.passkey.verifyRegistration({ response: { id: "AAAA", type: "public-key", response: {} } });
  // No challenge cookie at all (another browser of the same user).
  const b = t.actor("b");
  await b.client.signIn.email({ email, password: PW });
  await b.client.passkey.verifyRegistration({ response: { id: "AAAA", type: "public-key", response: {} } });
  await b.client.passkey.verifyAuthentication({ response: { id: "AAAA", type: "public-key", response: {} } });
  return { jarAnon: anon.cookieNames(), jarA: a.cookieNames() };
});

scenario("passkey/ceremony", async (t) => {
  const { a, email } = await signedUp(t);
  const authr = new SoftAuthenticator({ rpId: "localhost", origin: t.origin });
  const opts = (await a.client.passkey.generateRegisterOptions()).data;
  if (!opts?.challenge) return { options: "none" };
  const reg = authr.create(opts);
  await a.client.passkey.verifyRegistration({ response: reg, name: "Laptop" });
  // The challenge is spent by the first verify call.
  await a.client.passkey.verifyRegistration({ response: reg, name: "Laptop" });
  const listed = (await a.client.passkey.listUserPasskeys()).data ?? [];
  const pk = listed[0];
  await a.client.passkey.generateRegisterOptions();
  await a.client.passkey.updatePasskey({ id: pk?.id ?? "missing", name: "Work laptop" });
  await a.client.passkey.updatePasskey({ id: pk?.id ?? "missing", name: "" });
  await a.client.passkey.listUserPasskeys();
  // Someone else's session cannot rename or delete it.
  const { a: other } = await signedUp(t, "other");
  await other.client.passkey.updatePasskey({ id: pk?.id ?? "missing", name: "Mine now" });
  await other.client.passkey.deletePasskey({ id: pk?.id ?? "missing" });

  // Sign in with it, signed out, in a new browser.
  const b = t.actor("b");
  const aopts = (await b.client.passkey.generateAuthenticateOptions()).data;
  if (!aopts?.challenge) return { authOptions: "none" };
  const assertion = authr.get(aopts);
  await b.client.passkey.verifyAuthentication({ response: assertion });
  await b.client.getSession();
  const jarAfterPasskeySignIn = b.cookieNames();
  await b.client.passkey.listUserPasskeys();
  // Signed in: the options list the user's credential.
  await b.client.passkey.generateAuthenticateOptions();
  // The spent challenge cannot be replayed.
  await t.actor("c").client.passkey.verifyAuthentication({ response: assertion });
  // A bad signature, and an assertion for an unknown credential.
  const c = t.actor("c2");
  const copts = (await c.client.passkey.generateAuthenticateOptions()).data;
  await c.client.passkey.verifyAuthentication({ response: authr.get(copts, { badSignature: true }) });
  const d = t.actor("d");
  const dopts = (await d.client.passkey.generateAuthenticateOptions()).data;
  const stranger = new SoftAuthenticator({ rpId: "localhost", origin: t.origin });
  stranger.create({ challenge: "x", user: { id: "eA" } });
  await d.client.passkey.verifyAuthentication({ response: stranger.get(dopts) });
  await d.client.getSession();

  await a.client.passkey.deletePasskey({ id: pk?.id ?? "missing" });
  await a.client.passkey.listUserPasskeys();
  await a.client.passkey.deletePasskey({ id: pk?.id ?? "missing" });
  const e = t.actor("e");
  const eopts = (await e.client.passkey.generateAuthenticateOptions()).data;
  await e.client.passkey.verifyAuthentication({ response: authr.get(eopts) });
  return { listedCount: listed.length, jarAfterPasskeySignIn, email: email === t.email("u") };
});

scenario("passkey/without-user-verification", async (t) => {
  // An authenticator that tests presence only (flags UP, no UV).
  const { a } = await signedUp(t);
  const noUv = new SoftAuthenticator({ rpId: "localhost", origin: t.origin, flags: FLAGS.UP });
  const opts = (await a.client.passkey.generateRegisterOptions()).data;
  if (!opts?.challenge) return { options: "none" };
  await a.client.passkey.verifyRegistration({ response: noUv.create(opts), name: "No UV" });
  const listed = (await a.client.passkey.listUserPasskeys()).data ?? [];
  // Another user's credential registered with UV, then used without it.
  const { a: v } = await signedUp(t, "v");
  const authr = new SoftAuthenticator({ rpId: "localhost", origin: t.origin });
  const vopts = (await v.client.passkey.generateRegisterOptions()).data;
  await v.client.passkey.verifyRegistration({ response: authr.create(vopts), name: "UV" });
  authr.flags = FLAGS.UP;
  const b = t.actor("b");
  const bopts = (await b.client.passkey.generateAuthenticateOptions()).data;
  await b.client.passkey.verifyAuthentication({ response: authr.get(bopts) });
  await b.client.getSession();
  return { listedCount: listed.length, jarB: b.cookieNames() };
});

// ---------------------------------------------------------------- time (the "short" servers)
//
// freshAge and the lifetimes of the email-OTP code, magic link, reset link and
// verification link are 2 s on these servers; each scenario waits past that
// (real time, both sides at once) and then uses what it was given.

const SHORT = { servers: "short" };
const PAST_SHORT_MS = 3000;

scenario("time/stale-session", SHORT, async (t) => {
  const { a } = await signedUp(t);
  // A user without a password (magic link), for delete-user and set-password.
  const m = t.actor("m");
  const emailM = t.email("m");
  await m.client.signIn.magicLink({ email: emailM });
  const link = t.linkIn(await t.mail(emailM));
  if (!link) return { link: "no mail" };
  await m.client.magicLink.verify({ query: { token: new URL(link).searchParams.get("token") } });
  // Fresh: the routes that need freshness answer.
  await a.client.listSessions();
  await a.client.passkey.generateRegisterOptions();
  await t.sleep(PAST_SHORT_MS);
  // Stale.
  await a.client.getSession();
  await a.client.listSessions();
  await a.client.passkey.generateRegisterOptions();
  await a.client.passkey.verifyRegistration({ response: { id: "AAAA", type: "public-key", response: {} } });
  await a.client.updateUser({ name: "Stale But Allowed" });
  await a.client.changeEmail({ newEmail: t.email("new"), callbackURL: "/changed" });
  const changeEmailMailed = (await t.mail(t.email("new"), 1500)) !== null;
  await a.client.deleteUser({});
  await a.client.deleteUser({ password: PW });
  const deleteMailed = (await t.mail(t.email("u"), 1500)) !== null;
  await m.client.listSessions();
  await m.client.deleteUser({});
  const deleteMailedM = (await t.mail(emailM, 1500)) !== null;
  await m.request("POST", "/set-password", { body: { newPassword: PW2 } });
  // A new sign-in is fresh again; change-password (no freshness needed) last,
  // since it replaces the session.
  await a.client.changePassword({ currentPassword: PW, newPassword: PW2 });
  await a.client.listSessions();
  return { changeEmailMailed, deleteMailed, deleteMailedM, jarM: m.cookieNames() };
});

scenario("time/email-otp-expired", SHORT, async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.emailOtp.sendVerificationOtp({ email, type: "email-verification" });
  const verifyOtp = t.codeIn(await t.mail(email));
  const b = t.actor("b");
  const emailB = t.email("b");
  await b.client.emailOtp.sendVerificationOtp({ email: emailB, type: "sign-in" });
  const signInOtp = t.codeIn(await t.mail(emailB));
  const c = t.actor("c");
  const { email: emailC } = await signedUp(t, "c");
  await c.client.emailOtp.requestPasswordReset({ email: emailC });
  const resetOtp = t.codeIn(await t.mail(emailC));
  if (!verifyOtp || !signInOtp || !resetOtp) return { verifyOtp: !!verifyOtp, signInOtp: !!signInOtp, resetOtp: !!resetOtp };
  await t.sleep(PAST_SHORT_MS);
  await a.client.emailOtp.verifyEmail({ email, otp: verifyOtp });
  await a.client.emailOtp.verifyEmail({ email, otp: verifyOtp });
  await a.client.emailOtp.checkVerificationOtp({ email, type: "email-verification", otp: verifyOtp });
  await a.client.getSession();
  await b.client.signIn.emailOtp({ email: emailB, otp: signInOtp });
  await b.client.signIn.emailOtp({ email: emailB, otp: signInOtp });
  await b.client.getSession();
  await c.client.emailOtp.resetPassword({ email: emailC, otp: resetOtp, password: PW2 });
  await c.client.signIn.email({ email: emailC, password: PW2 });
  return { jarB: b.cookieNames() };
});

scenario("time/magic-link-expired", SHORT, async (t) => {
  // One address per link, so no link is replaced by a later one.
  const a = t.actor("a");
  const [e1, e2, e3] = [t.email("cb"), t.email("cb-only"), t.email("plain")];
  await a.client.signIn.magicLink({ email: e1, callbackURL: "/ml", newUserCallbackURL: "/welcome", errorCallbackURL: "/ml-error" });
  const l1 = t.linkIn(await t.mail(e1));
  await a.client.signIn.magicLink({ email: e2, callbackURL: "/ml" });
  const l2 = t.linkIn(await t.mail(e2));
  await a.client.signIn.magicLink({ email: e3 });
  const l3 = t.linkIn(await t.mail(e3));
  if (!l1 || !l2 || !l3) return { links: [!!l1, !!l2, !!l3] };
  await t.sleep(PAST_SHORT_MS);
  await a.request("GET", l1);
  await a.request("GET", l2);
  await a.client.magicLink.verify({ query: { token: new URL(l3).searchParams.get("token") } });
  await a.client.getSession();
  return { linkForms: [l1, l2, l3].map(t.linkForm), jar: a.cookieNames() };
});

scenario("time/reset-link-expired", SHORT, async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.signOut();
  await a.client.requestPasswordReset({ email, redirectTo: "/reset" });
  const link = t.linkIn(await t.mail(email));
  if (!link) return { link: "no mail" };
  const token = new URL(link).pathname.split("/").pop();
  await t.sleep(PAST_SHORT_MS);
  await a.request("GET", link);
  await a.request("GET", `/reset-password/${token}`);
  await a.client.resetPassword({ newPassword: PW2, token });
  await a.client.signIn.email({ email, password: PW2 });
  await a.client.signIn.email({ email, password: PW });
  return { linkForm: t.linkForm(link) };
});

scenario("time/verification-link-expired", SHORT, async (t) => {
  const { a, email } = await signedUp(t);
  await a.client.sendVerificationEmail({ email, callbackURL: "/verified" });
  const l1 = t.linkIn(await t.mail(email));
  const { a: b, email: emailB } = await signedUp(t, "b");
  await b.client.sendVerificationEmail({ email: emailB });
  const l2 = t.linkIn(await t.mail(emailB));
  if (!l1 || !l2) return { links: [!!l1, !!l2] };
  await t.sleep(PAST_SHORT_MS);
  await a.request("GET", l1);
  await a.client.getSession();
  await b.request("GET", l2);
  await b.client.verifyEmail({ query: { token: new URL(l1).searchParams.get("token"), callbackURL: "/v" } });
  await b.client.getSession();
  return { linkForms: [l1, l2].map(t.linkForm) };
});

// ---------------------------------------------------------------- admin

/** The operator account both servers create at start, signed in on a new actor. */
async function operator(t, tag = "op") {
  const op = t.actor(tag);
  await op.client.signIn.email({ email: t.admin.email, password: t.admin.password });
  return op;
}

/** The user id of an actor's session. */
async function idOf(actor) {
  return (await actor.client.getSession()).data?.user?.id ?? "missing";
}

scenario("admin/not-an-admin", async (t) => {
  const { a } = await signedUp(t);
  const uid = await idOf(a);
  const anon = t.actor("anon");
  for (const who of [anon, a]) {
    await who.client.admin.createUser({ email: t.email("x"), name: "X", password: PW });
    await who.client.admin.getUser({ query: { id: uid } });
    await who.client.admin.updateUser({ userId: uid, data: { name: "x" } });
    await who.client.admin.listUsers({ query: {} });
    await who.client.admin.listUserSessions({ userId: uid });
    await who.client.admin.setRole({ userId: uid, role: "admin" });
    await who.client.admin.banUser({ userId: uid });
    await who.client.admin.unbanUser({ userId: uid });
    await who.client.admin.impersonateUser({ userId: uid });
    await who.client.admin.revokeUserSession({ sessionToken: "x" });
    await who.client.admin.revokeUserSessions({ userId: uid });
    await who.client.admin.removeUser({ userId: uid });
    await who.client.admin.setUserPassword({ userId: uid, newPassword: PW2 });
    await who.client.admin.hasPermission({ permissions: { user: ["list"] } });
  }
  await a.client.getSession();
});

scenario("admin/create-get-update-list", async (t) => {
  const op = await operator(t);
  const made = await op.client.admin.createUser({ email: t.email("made"), name: "Made", password: PW, role: "user", data: { emailVerified: true } });
  const id = made.data?.user?.id ?? "missing";
  await op.client.admin.createUser({ email: t.email("made"), name: "Again", password: PW });
  await op.client.admin.createUser({ email: "not-an-email", name: "Bad" });
  await op.client.admin.createUser({ email: t.email("nopw"), name: "No password" });
  await op.client.admin.getUser({ query: { id } });
  await op.client.admin.getUser({ query: { id: "missing" } });
  await op.client.admin.updateUser({ userId: id, data: { name: "Renamed", image: "https://img.example/a.png" } });
  await op.client.admin.updateUser({ userId: id, data: {} });
  await op.client.admin.updateUser({ userId: id, data: { password: "x" } });
  await op.client.admin.updateUser({ userId: "missing", data: { name: "x" } });
  const tag = t.email("").split(".")[0];
  await op.client.admin.listUsers({ query: { searchValue: tag, searchField: "email", sortBy: "name", sortDirection: "desc" } });
  await op.client.admin.listUsers({ query: { searchValue: tag, limit: 1, offset: 1, sortBy: "email" } });
  await op.client.admin.listUsers({ query: { filterField: "email", filterValue: t.email("made") } });
  const u = t.actor("made");
  await u.client.signIn.email({ email: t.email("made"), password: PW });
  await u.client.getSession();
});

scenario("admin/ban-and-unban", async (t) => {
  const op = await operator(t);
  const { a, email } = await signedUp(t);
  const uid = await idOf(a);
  await op.client.admin.banUser({ userId: uid, banReason: "spam", banExpiresIn: 3600 });
  await a.client.getSession();
  await a.client.signIn.email({ email, password: PW });
  await op.client.admin.listUserSessions({ userId: uid });
  await op.client.admin.banUser({ userId: await idOf(op) });
  await op.client.admin.banUser({ userId: "missing" });
  await op.client.admin.unbanUser({ userId: uid });
  await a.client.signIn.email({ email, password: PW });
  await a.client.getSession();
});

scenario("admin/impersonate", async (t) => {
  const op = await operator(t);
  const { a } = await signedUp(t);
  const uid = await idOf(a);
  await op.client.admin.impersonateUser({ userId: uid });
  const jar = op.cookieNames();
  await op.client.getSession();
  await a.client.listSessions();
  await op.client.admin.stopImpersonating();
  await op.client.getSession();
  await op.client.admin.stopImpersonating();
  await op.client.admin.impersonateUser({ userId: "missing" });
  return { jarWhileImpersonating: jar };
});

scenario("admin/sessions-password-role-remove", async (t) => {
  const op = await operator(t);
  const { a, email } = await signedUp(t);
  const uid = await idOf(a);
  const b = t.actor("b");
  await b.client.signIn.email({ email, password: PW });
  const listed = await op.client.admin.listUserSessions({ userId: uid });
  const sessions = listed.data?.sessions ?? [];
  await op.client.admin.revokeUserSession({ sessionToken: sessions.at(-1)?.token ?? "missing" });
  await b.client.getSession();
  await a.client.getSession();
  await op.client.admin.revokeUserSessions({ userId: uid });
  await a.client.getSession();
  await op.client.admin.setUserPassword({ userId: uid, newPassword: PW2 });
  await op.client.admin.setUserPassword({ userId: uid, newPassword: "short" });
  await a.client.signIn.email({ email, password: PW2 });
  await op.client.admin.setRole({ userId: uid, role: "admin" });
  await a.client.getSession();
  await a.client.admin.hasPermission({ permissions: { user: ["list"] } });
  await op.client.admin.setRole({ userId: uid, role: "user" });
  await a.client.admin.hasPermission({ permissions: { user: ["list"] } });
  await op.client.admin.hasPermission({ permissions: { user: ["ban"], session: ["revoke"] } });
  await op.client.admin.hasPermission({ permission: { user: ["ban"] } });
  await op.client.admin.removeUser({ userId: await idOf(op) });
  await op.client.admin.removeUser({ userId: uid });
  await a.client.getSession();
  await op.client.admin.removeUser({ userId: uid });
  return { listedCount: sessions.length };
});

scenario("admin/gatehouse-roles-and-audit", async (t) => {
  // Routes Gatehouse adds (runtime roles, the audit trail): 404 on Better Auth.
  const op = await operator(t);
  await op.request("POST", "/admin/create-role", { body: { role: "compat-support", permission: { user: ["list"] } } });
  await op.request("POST", "/admin/update-role", { body: { role: "compat-support", permission: { user: ["get"] } } });
  await op.request("GET", "/admin/get-role?role=compat-support");
  await op.request("GET", "/admin/list-roles");
  await op.request("POST", "/admin/delete-role", { body: { role: "compat-support" } });
  await op.request("GET", "/admin/list-audit-logs?action=admin.&limit=1");
});

// ---------------------------------------------------------------- organization
// Both servers run organization({ teams, dynamicAccessControl }) (Gatehouse:
// [organization] teams, dynamic_access_control). Each side has its own
// database, so slugs only need to be deterministic: they come from the
// scenario's addresses.

/** A slug derived from the scenario id and a tag (same on both sides). */
const orgSlug = (t, tag) => t.email(tag).split("@")[0].replace(/[^a-z0-9]+/gi, "-").toLowerCase();

/** Signs up a user and creates an organization (active); returns { a, email, org, orgId }. */
async function withOrg(t, tag = "owner", orgTag = "org") {
  const { a, email } = await signedUp(t, tag);
  const org = (await a.client.organization.create({ name: `Org ${orgTag}`, slug: orgSlug(t, orgTag) })).data;
  return { a, email, org, orgId: org?.id ?? "missing" };
}

/** A user whose address is verified (email-OTP sign-in makes one). */
async function verifiedUser(t, tag) {
  const a = t.actor(tag);
  const email = t.email(tag);
  await a.client.emailOtp.sendVerificationOtp({ email, type: "sign-in" });
  const otp = t.codeIn(await t.mail(email));
  await a.client.signIn.emailOtp({ email, otp: otp ?? "000000" });
  return { a, email };
}

/**
 * Invites `email` from `inviter` and reads the mailed link; returns the
 * invitation id the link carries (its last path segment), the link and the answer.
 */
async function invited(t, inviter, email, role = "member", extra = {}) {
  const res = await inviter.client.organization.inviteMember({ email, role, ...extra });
  const link = t.linkIn(await t.mail(email));
  return { id: link ? decodeURIComponent(new URL(link).pathname.split("/").pop()) : "missing", link, res };
}

scenario("organization/create-read-update-delete", async (t) => {
  const anon = t.actor("anon");
  await anon.client.organization.create({ name: "Nope", slug: orgSlug(t, "anon") });
  await anon.client.organization.list();
  const { a } = await signedUp(t, "owner");
  const slugA = orgSlug(t, "a");
  const slugB = orgSlug(t, "b");
  await a.client.organization.checkSlug({ slug: slugA });
  const made = await a.client.organization.create({ name: "Org A", slug: slugA, logo: "https://img.example/a.png", metadata: { plan: "pro" } });
  const idA = made.data?.id ?? "missing";
  await a.client.getSession();
  await a.client.organization.checkSlug({ slug: slugA });
  await a.client.organization.create({ name: "Org A again", slug: slugA });
  await a.client.organization.create({ name: "", slug: orgSlug(t, "empty") });
  const b = await a.client.organization.create({ name: "Org B", slug: slugB, keepCurrentActiveOrganization: true });
  const idB = b.data?.id ?? "missing";
  await a.client.getSession();
  await a.client.organization.list();
  await a.client.organization.getOrganization();
  await a.client.organization.getOrganization({ query: { organizationSlug: slugB } });
  await a.client.organization.getOrganization({ query: { organizationId: idB } });
  await a.client.organization.getOrganization({ query: { organizationId: "no-such-org" } });
  await a.client.organization.getFullOrganization();
  await a.client.organization.getFullOrganization({ query: { organizationSlug: slugB, membersLimit: 1 } });
  await a.client.organization.update({ data: { name: "Org A renamed", metadata: { plan: "team" } } });
  await a.client.organization.update({ organizationId: idB, data: { slug: slugA } });
  await a.client.organization.update({ organizationId: idB, data: { slug: orgSlug(t, "b2"), logo: null } });
  await a.client.organization.setActive({ organizationSlug: orgSlug(t, "b2") });
  await a.client.getSession();
  await a.client.organization.setActive({ organizationId: null });
  await a.client.organization.getOrganization();
  await a.client.organization.getFullOrganization();
  await a.client.organization.setActive({ organizationId: idA });
  await a.client.organization.delete({ organizationId: idA });
  await a.client.getSession();
  await a.client.organization.delete({ organizationId: idA });
  await a.client.organization.list();
  await a.client.organization.setActive({ organizationSlug: slugA });
});

scenario("organization/not-a-member", async (t) => {
  const { a, orgId } = await withOrg(t);
  const { a: b } = await withOrg(t, "b", "b-org");
  // b's own organization is active; reading a's clears it (403).
  await b.client.organization.getOrganization({ query: { organizationId: orgId } });
  await b.client.getSession();
  await b.client.organization.setActive({ organizationSlug: orgSlug(t, "b-org") });
  await b.client.organization.getFullOrganization({ query: { organizationId: orgId } });
  await b.client.getSession();
  await b.client.organization.setActive({ organizationSlug: orgSlug(t, "b-org") });
  await b.client.organization.setActive({ organizationId: orgId });
  await b.client.getSession();
  await b.client.organization.update({ organizationId: orgId, data: { name: "Taken over" } });
  await b.client.organization.delete({ organizationId: orgId });
  await b.client.organization.listMembers({ query: { organizationId: orgId } });
  await b.client.organization.listInvitations({ query: { organizationId: orgId } });
  await b.client.organization.inviteMember({ organizationId: orgId, email: t.email("x"), role: "member" });
  await b.client.organization.getActiveMemberRole({ query: { organizationId: orgId } });
  await b.client.organization.hasPermission({ organizationId: orgId, permissions: { member: ["create"] } });
  await b.client.organization.leave({ organizationId: orgId });
  await b.client.organization.listTeams({ query: { organizationId: orgId } });
  await b.client.organization.createTeam({ organizationId: orgId, name: "Intruders" });
  await b.client.organization.listRoles({ query: { organizationId: orgId } });
  await b.client.organization.getActiveMember();
  await a.client.organization.getFullOrganization();
});

scenario("organization/invitations", async (t) => {
  const { a, orgId, email: ownerEmail } = await withOrg(t);
  const bob = await verifiedUser(t, "bob");
  const carol = await verifiedUser(t, "carol");
  // Invite bob: the mail links <base>/accept-invitation/<id>.
  const inv = await invited(t, a, bob.email, "member");
  await a.client.organization.inviteMember({ email: bob.email, role: "member" });
  await a.client.organization.inviteMember({ email: bob.email, role: "member", resend: true });
  const resentMailed = (await t.mail(bob.email)) !== null;
  await a.client.organization.inviteMember({ email: "not-an-email", role: "member" });
  await a.client.organization.inviteMember({ email: t.email("z"), role: "no-such-role" });
  await a.client.organization.inviteMember({ email: ownerEmail, role: "member" });
  await a.client.organization.listInvitations();
  await a.client.organization.listInvitations({ query: { organizationId: orgId } });
  await bob.a.client.organization.listUserInvitations();
  // Not bob: carol can neither read nor accept nor reject it.
  await carol.a.client.organization.getInvitation({ query: { id: inv.id } });
  await carol.a.client.organization.acceptInvitation({ invitationId: inv.id });
  await carol.a.client.organization.rejectInvitation({ invitationId: inv.id });
  await bob.a.client.organization.getInvitation({ query: { id: inv.id } });
  await bob.a.client.organization.getInvitation({ query: { id: "no-such-invitation" } });
  await bob.a.client.organization.acceptInvitation({ invitationId: inv.id });
  await bob.a.client.getSession();
  await bob.a.client.organization.acceptInvitation({ invitationId: inv.id });
  await bob.a.client.organization.getInvitation({ query: { id: inv.id } });
  await bob.a.client.organization.listUserInvitations();
  // A member (bob) may not invite.
  await bob.a.client.organization.inviteMember({ email: t.email("y"), role: "member" });
  // Carol rejects hers; a later invitation is canceled by the owner.
  const invC = await invited(t, a, carol.email, "admin");
  await carol.a.client.organization.rejectInvitation({ invitationId: invC.id });
  await carol.a.client.organization.acceptInvitation({ invitationId: invC.id });
  const invC2 = await invited(t, a, carol.email, ["admin", "member"]);
  await bob.a.client.organization.cancelInvitation({ invitationId: invC2.id });
  await a.client.organization.cancelInvitation({ invitationId: invC2.id });
  await carol.a.client.organization.acceptInvitation({ invitationId: invC2.id });
  await a.client.organization.cancelInvitation({ invitationId: "no-such-invitation" });
  await a.client.organization.listInvitations();
  // An unverified recipient may not list their invitations.
  const { a: dave, email: daveEmail } = await signedUp(t, "dave");
  await a.client.organization.inviteMember({ email: daveEmail, role: "member" });
  await t.mail(daveEmail);
  await dave.client.organization.listUserInvitations();
  await a.client.organization.getFullOrganization();
  return { linkForm: t.linkForm(inv.link), resentMailed };
});

scenario("organization/members-and-roles", async (t) => {
  const { a, orgId } = await withOrg(t);
  const bob = await verifiedUser(t, "bob");
  const carol = await verifiedUser(t, "carol");
  const ib = await invited(t, a, bob.email, "member");
  const accB = await bob.a.client.organization.acceptInvitation({ invitationId: ib.id });
  const ic = await invited(t, a, carol.email, "admin");
  const accC = await carol.a.client.organization.acceptInvitation({ invitationId: ic.id });
  const bobMember = accB.data?.member?.id ?? "missing";
  const carolMember = accC.data?.member?.id ?? "missing";
  const ownerMember = (await a.client.organization.getActiveMember()).data?.id ?? "missing";
  await a.client.organization.listMembers();
  await a.client.organization.listMembers({ query: { limit: 2, offset: 1, sortBy: "createdAt", sortDirection: "desc" } });
  await a.client.organization.listMembers({ query: { organizationSlug: orgSlug(t, "org"), filterField: "role", filterValue: "admin" } });
  await bob.a.client.organization.getActiveMember();
  await bob.a.client.organization.getActiveMemberRole();
  await bob.a.client.organization.getActiveMemberRole({ query: { userId: await idOf(carol.a) } });
  await bob.a.client.organization.hasPermission({ permissions: { member: ["create"] } });
  await bob.a.client.organization.hasPermission({ permissions: { ac: ["read"] } });
  await carol.a.client.organization.hasPermission({ permissions: { member: ["create", "update"], invitation: ["create"] } });
  await carol.a.client.organization.hasPermission({ permissions: { organization: ["delete"] } });
  await carol.a.client.organization.hasPermission({ permissions: { nothing: ["x"] } });
  await carol.a.client.organization.hasPermission({ permission: { member: ["create"] } });
  // Escalation: a member cannot change roles; an admin cannot make anyone owner.
  await bob.a.client.organization.updateMemberRole({ memberId: bobMember, role: "admin" });
  await carol.a.client.organization.updateMemberRole({ memberId: carolMember, role: "owner" });
  await carol.a.client.organization.updateMemberRole({ memberId: bobMember, role: "owner" });
  await carol.a.client.organization.updateMemberRole({ memberId: ownerMember, role: "member" });
  await a.client.organization.updateMemberRole({ memberId: bobMember, role: "no-such-role" });
  await a.client.organization.updateMemberRole({ memberId: bobMember, role: ["admin", "member"] });
  await bob.a.client.organization.getActiveMemberRole();
  await a.client.organization.updateMemberRole({ memberId: bobMember, role: "member" });
  await a.client.organization.updateMemberRole({ memberId: "no-such-member", role: "member" });
  // Removal: a member may not remove; the only owner can neither leave nor be removed.
  await bob.a.client.organization.removeMember({ memberIdOrEmail: carol.email });
  await carol.a.client.organization.removeMember({ memberIdOrEmail: ownerMember });
  await a.client.organization.leave({ organizationId: orgId });
  await a.client.organization.removeMember({ memberIdOrEmail: ownerMember });
  await a.client.organization.removeMember({ memberIdOrEmail: t.email("nobody") });
  await carol.a.client.organization.removeMember({ memberIdOrEmail: bob.email });
  await bob.a.client.organization.getActiveMember();
  await bob.a.client.getSession();
  // A second owner lets the first leave.
  await a.client.organization.updateMemberRole({ memberId: carolMember, role: "owner" });
  await a.client.organization.leave({ organizationId: orgId });
  await a.client.getSession();
  await a.client.organization.leave({ organizationId: orgId });
  await carol.a.client.organization.listMembers();
  await carol.a.client.organization.getActiveMemberRole({ query: { organizationSlug: orgSlug(t, "org") } });
});

scenario("organization/teams", async (t) => {
  const { a, orgId } = await withOrg(t);
  const bob = await verifiedUser(t, "bob");
  const ib = await invited(t, a, bob.email, "member");
  await bob.a.client.organization.acceptInvitation({ invitationId: ib.id });
  const bobId = await idOf(bob.a);
  const ownerId = await idOf(a);
  // The default team (named after the organization) is active for the creator.
  await a.client.getSession();
  const teams = await a.client.organization.listTeams();
  const defaultTeam = teams.data?.[0]?.id ?? "missing";
  const made = await a.client.organization.createTeam({ name: "Platform" });
  const teamId = made.data?.id ?? "missing";
  await a.client.organization.createTeam({ name: "Platform" });
  await bob.a.client.organization.createTeam({ name: "Bob's team" });
  await a.client.organization.updateTeam({ teamId, data: { name: "Platform Core" } });
  await bob.a.client.organization.updateTeam({ teamId, data: { name: "Bob's now" } });
  await a.client.organization.updateTeam({ teamId: "no-such-team", data: { name: "x" } });
  await a.client.organization.listTeams({ query: { organizationId: orgId } });
  await a.client.organization.addTeamMember({ teamId, userId: bobId });
  await a.client.organization.addTeamMember({ teamId, userId: "no-such-user" });
  await bob.a.client.organization.addTeamMember({ teamId: defaultTeam, userId: bobId });
  await a.client.organization.listTeamMembers({ query: { teamId } });
  await a.client.organization.listTeamMembers();
  await bob.a.client.organization.listTeamMembers({ query: { teamId: defaultTeam } });
  await bob.a.client.organization.listUserTeams();
  await a.client.organization.listUserTeams({ query: { userId: bobId, organizationId: orgId } });
  await bob.a.client.organization.listUserTeams({ query: { userId: ownerId } });
  await bob.a.client.organization.setActiveTeam({ teamId });
  await bob.a.client.getSession();
  await bob.a.client.organization.listTeamMembers();
  await bob.a.client.organization.setActiveTeam({ teamId: defaultTeam });
  await bob.a.client.organization.setActiveTeam({ teamId: null });
  await bob.a.client.getSession();
  await a.client.organization.getFullOrganization();
  // Invitation into a team.
  const carol = await verifiedUser(t, "carol");
  const ic = await invited(t, a, carol.email, "member", { teamId });
  await carol.a.client.organization.acceptInvitation({ invitationId: ic.id });
  const carolId = await idOf(carol.a);
  await bob.a.client.organization.listTeamMembers({ query: { teamId } });
  await bob.a.client.organization.removeTeamMember({ teamId, userId: carolId });
  await a.client.organization.removeTeamMember({ teamId, userId: carolId });
  await carol.a.client.getSession();
  await a.client.organization.removeTeamMember({ teamId, userId: carolId });
  await bob.a.client.organization.removeTeam({ teamId });
  await a.client.organization.removeTeam({ teamId });
  await a.client.organization.removeTeam({ teamId });
  await a.client.organization.removeTeam({ teamId: defaultTeam });
  await a.client.organization.listTeams();
});

scenario("organization/team-member-role", async (t) => {
  // Gatehouse addition: team-scoped roles (update-team-member-role); 404 on Better Auth.
  const { a } = await withOrg(t);
  const teamId = (await a.client.organization.listTeams()).data?.[0]?.id ?? "missing";
  const ownerId = await idOf(a);
  await a.client.organization.updateTeamMemberRole({ teamId, userId: ownerId, role: "admin" });
});

scenario("organization/dynamic-roles", async (t) => {
  const { a, orgId } = await withOrg(t);
  const bob = await verifiedUser(t, "bob");
  const ib = await invited(t, a, bob.email, "member");
  const accB = await bob.a.client.organization.acceptInvitation({ invitationId: ib.id });
  const bobMember = accB.data?.member?.id ?? "missing";
  await a.client.organization.createRole({ role: "support", permission: { member: ["update"], invitation: ["create"] } });
  await a.client.organization.createRole({ role: "support", permission: { member: ["update"] } });
  await a.client.organization.createRole({ role: "owner", permission: { member: ["update"] } });
  await a.client.organization.createRole({ role: "weird", permission: { nothing: ["x"] } });
  await a.client.organization.createRole({ role: "auditor", organizationId: orgId, permission: { ac: ["read"] } });
  await bob.a.client.organization.createRole({ role: "bobs", permission: { member: ["delete"] } });
  await a.client.organization.listRoles();
  await bob.a.client.organization.listRoles();
  await a.client.organization.getRole({ query: { roleName: "support" } });
  await a.client.organization.getRole({ query: { roleName: "no-such-role" } });
  await a.client.organization.updateRole({ roleName: "support", data: { permission: { member: ["update", "delete"] } } });
  await bob.a.client.organization.updateRole({ roleName: "support", data: { permission: { organization: ["delete"] } } });
  // Give bob the stored role; he may now update members but not grant more than he holds.
  await a.client.organization.updateMemberRole({ memberId: bobMember, role: "support" });
  await bob.a.client.organization.getActiveMemberRole();
  await bob.a.client.organization.hasPermission({ permissions: { member: ["update"] } });
  await bob.a.client.organization.hasPermission({ permissions: { organization: ["update"] } });
  await bob.a.client.organization.updateMemberRole({ memberId: bobMember, role: "admin" });
  await a.client.organization.updateRole({ roleName: "auditor", data: { roleName: "reader" } });
  await a.client.organization.getRole({ query: { roleName: "reader" } });
  await a.client.organization.deleteRole({ roleName: "owner" });
  await a.client.organization.deleteRole({ roleName: "reader" });
  await a.client.organization.deleteRole({ roleName: "reader" });
  await a.client.organization.listRoles({ query: { organizationId: orgId } });
});

// ---------------------------------------------------------------- jwt

scenario("jwt/token-jwks-and-the-session-header", async (t) => {
  const a = t.actor("a");
  await a.client.token();
  await a.client.getSession();
  const jwksBefore = (await a.client.jwks()).data;
  await a.client.signUp.email({ name: "Jwt User", email: t.email("u"), password: PW });
  const { data } = await a.client.token();
  const session = await a.client.getSession();
  const jwks = (await a.client.jwks()).data;
  const { payload, protectedHeader } = await jwtVerify(data.token, createLocalJWKSet(jwks), { issuer: t.origin, audience: t.origin });
  await a.client.signOut();
  await a.client.token();
  return {
    sameKeyBeforeAndAfter: jwksBefore.keys[0].kid === jwks.keys[0].kid,
    header: Object.keys(protectedHeader).sort(),
    alg: protectedHeader.alg,
    claims: Object.keys(payload).sort(),
    lifetime: payload.exp - payload.iat,
    subIsUser: payload.sub === session.data.user.id && payload.id === payload.sub,
    email: payload.email === session.data.user.email,
    decodedOk: decodeJwt(data.token).sub === payload.sub,
  };
});

// ---------------------------------------------------------------- multi-session

scenario("multi-session/list-switch-revoke-sign-out", async (t) => {
  const { email: e1 } = await signedUp(t, "one");
  const { email: e2 } = await signedUp(t, "two");
  const b = t.actor("browser");
  await b.client.multiSession.listDeviceSessions();
  const t1 = (await b.client.signIn.email({ email: e1, password: PW })).data.token;
  const t2 = (await b.client.signIn.email({ email: e2, password: PW })).data.token;
  const jarTwoAccounts = b.cookieNames();
  const listed = (await b.client.multiSession.listDeviceSessions()).data;
  await b.client.multiSession.setActive({ sessionToken: t1 });
  const active = (await b.client.getSession()).data;
  await b.client.multiSession.setActive({ sessionToken: "not-a-session-token" });
  await b.client.multiSession.revoke({ sessionToken: t2 });
  const afterRevoke = (await b.client.multiSession.listDeviceSessions()).data;
  await b.client.signIn.email({ email: e1, password: PW });
  const afterSameUser = (await b.client.multiSession.listDeviceSessions()).data;
  await b.client.signOut();
  await b.client.multiSession.listDeviceSessions();
  await b.client.multiSession.revoke({ sessionToken: t1 });
  return {
    jarTwoAccounts,
    listedEmails: listed.map((e) => e.user.email === e1 ? "one" : "two"),
    activeIsOne: active.user.email === e1,
    afterRevoke: afterRevoke.map((e) => e.user.email === e1 ? "one" : "two"),
    afterSameUser: afterSameUser.length,
    jarAfterSignOut: b.cookieNames(),
  };
});

// ---------------------------------------------------------------- anonymous

scenario("anonymous/guest-links-on-sign-up-and-delete", async (t) => {
  const g = t.actor("guest");
  const signedIn = (await g.client.signIn.anonymous()).data;
  await g.client.getSession();
  await g.client.signIn.anonymous();
  await g.client.signUp.email({ name: "Shopper", email: t.email("shopper"), password: PW });
  const afterLink = (await g.client.getSession()).data;
  const h = t.actor("guest2");
  await h.client.signIn.anonymous();
  await h.client.deleteAnonymousUser();
  await h.client.getSession();
  const { a } = await signedUp(t, "member");
  await a.client.deleteAnonymousUser();
  const o = t.actor("nobody");
  await o.client.deleteAnonymousUser();
  return {
    guestEmailIsPlaceholder: signedIn.user.email.endsWith("@anonymous.placeholder.invalid"),
    linkedIsNewUser: afterLink.user.isAnonymous === false && afterLink.user.id !== signedIn.user.id,
    jarGuest: g.cookieNames(),
    jarDeleted: h.cookieNames(),
  };
});

// ---------------------------------------------------------------- api-key
// Both servers: apiKey({ enableSessionForAPIKeys: true, enableMetadata: true }) /
// [api_key] enable_session_for_api_keys, enable_metadata. The key itself and its
// `start` are random: creates are compared by status, and their bodies come back
// in the result with those two reduced to their format.

/** A create's body with the random key and start reduced to their shape. */
function keyShape(body) {
  if (!body || typeof body !== "object" || typeof body.key !== "string") return body;
  const fmt = (s) => s.replace(/[A-Za-z]/g, "x");
  return { ...body, key: fmt(body.key), start: body.start === body.key.slice(0, 6) ? "<first 6>" : body.start };
}

async function createKey(a, body) {
  const r = await a.request("POST", "/api-key/create", { body, compareBody: false });
  return { status: r.status, body: keyShape(r.body), key: r.body?.key ?? "missing", id: r.body?.id ?? "missing" };
}

scenario("api-key/create", async (t) => {
  const { a } = await signedUp(t);
  const plain = await createKey(a, {});
  const named = await createKey(a, { name: "ci", prefix: "gh_", expiresIn: 7 * 86400, metadata: { env: "ci", n: 1 } });
  const errors = [];
  for (const body of [
    { name: "x".repeat(33) },
    { prefix: "p".repeat(33) },
    { prefix: "bad prefix" },
    { expiresIn: 3600 },
    { expiresIn: 400 * 86400 },
    { expiresIn: 0 },
    { metadata: "text" },
  ]) {
    errors.push(await a.request("POST", "/api-key/create", { body }));
  }
  const anon = t.actor("anon");
  await anon.request("POST", "/api-key/create", { body: { name: "nope" } });
  return { plain: plain.body, named: named.body, statuses: [plain.status, named.status], errors: errors.map((e) => e.status) };
});

scenario("api-key/server-only-properties", async (t) => {
  const { a } = await signedUp(t);
  const victim = await signedUp(t, "victim");
  const victimId = (await victim.a.client.getSession()).data?.user?.id ?? "missing";
  for (const extra of [
    { remaining: 5 },
    { refillAmount: 10, refillInterval: 1000 },
    { rateLimitTimeWindow: 1 },
    { rateLimitMax: 1000 },
    { rateLimitEnabled: false },
    { permissions: { files: ["read"] } },
    { userId: victimId },
    { userId: victimId, remaining: 5 },
  ]) {
    await a.request("POST", "/api-key/create", { body: { name: "x", ...extra } });
  }
  const mine = await createKey(a, { name: "mine" });
  for (const extra of [{ remaining: 5 }, { rateLimitMax: 1000 }, { permissions: { files: ["read"] } }, { refillAmount: 1, refillInterval: 1 }]) {
    await a.request("POST", "/api-key/update", { body: { keyId: mine.id, ...extra } });
  }
  await victim.a.request("GET", "/api-key/list");
  await a.request("GET", `/api-key/get?id=${mine.id}`);
});

scenario("api-key/get-list-update-delete", async (t) => {
  const { a } = await signedUp(t);
  const b = await signedUp(t, "b");
  const one = await createKey(a, { name: "one", metadata: { plan: "pro" } });
  const two = await createKey(a, { name: "two", prefix: "tk_" });
  await a.request("GET", `/api-key/get?id=${one.id}`);
  await a.request("GET", "/api-key/get?id=no-such-key");
  await b.a.request("GET", `/api-key/get?id=${one.id}`);
  await a.request("GET", "/api-key/list");
  await a.request("GET", "/api-key/list?limit=1&offset=0&sortBy=name&sortDirection=desc");
  await a.request("GET", "/api-key/list?offset=1&sortBy=name");
  await b.a.request("GET", "/api-key/list");
  await a.request("POST", "/api-key/update", { body: { keyId: one.id, name: "renamed", enabled: false, metadata: { plan: "team" } } });
  await a.request("POST", "/api-key/update", { body: { keyId: one.id, expiresIn: 30 * 86400 } });
  await a.request("POST", "/api-key/update", { body: { keyId: one.id, expiresIn: null } });
  await a.request("POST", "/api-key/update", { body: { keyId: one.id } });
  await a.request("POST", "/api-key/update", { body: { keyId: one.id, expiresIn: 60 } });
  await a.request("POST", "/api-key/update", { body: { keyId: one.id, name: "x".repeat(40) } });
  await b.a.request("POST", "/api-key/update", { body: { keyId: one.id, name: "stolen" } });
  await b.a.request("POST", "/api-key/delete", { body: { keyId: one.id } });
  await a.request("POST", "/api-key/delete", { body: { keyId: one.id } });
  await a.request("POST", "/api-key/delete", { body: { keyId: one.id } });
  await a.request("GET", "/api-key/list");
  const anon = t.actor("anon");
  await anon.request("GET", "/api-key/list");
  await anon.request("GET", `/api-key/get?id=${two.id}`);
  await anon.request("POST", "/api-key/update", { body: { keyId: two.id, name: "x" } });
  await anon.request("POST", "/api-key/delete", { body: { keyId: two.id } });
});

scenario("api-key/x-api-key-session", async (t) => {
  const { a } = await signedUp(t);
  const k = await createKey(a, { name: "bot" });
  const bot = t.actor("bot", { noCookies: true });
  await bot.request("GET", "/get-session", { headers: { "x-api-key": k.key } });
  await bot.request("GET", "/api-key/list", { headers: { "x-api-key": k.key } });
  await bot.request("GET", "/get-session", { headers: { "x-api-key": "abc" } });
  await bot.request("GET", "/get-session", { headers: { "x-api-key": "Q".repeat(64) } });
  await a.request("POST", "/api-key/update", { body: { keyId: k.id, enabled: false } });
  await bot.request("GET", "/get-session", { headers: { "x-api-key": k.key } });
  await a.request("POST", "/api-key/delete", { body: { keyId: k.id } });
  await bot.request("GET", "/get-session", { headers: { "x-api-key": k.key } });
  // Verification is server-side only.
  await a.request("POST", "/api-key/verify", { body: { key: k.key } });
  await a.request("POST", "/api-key/delete-all-expired-api-keys", { body: {} });
});

// ---------------------------------------------------------------- phone-number
// Codes reach the scenario through the harness's text-message relay (t.sms).
// Numbers are valid E.164 (Gatehouse checks them against libphonenumber's
// metadata; the reference's phoneNumberValidator checks the E.164 shape).

/** A user signed up by verifying `number` with a texted code: { a, number }. */
async function phoneUser(t, tag = "p") {
  const a = t.actor(tag);
  const number = t.phone(tag);
  await a.client.phoneNumber.sendOtp({ phoneNumber: number });
  const sms = await t.sms(number);
  await a.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none" });
  return { a, number };
}

scenario("phone-number/send-otp-verify-sign-up", async (t) => {
  const a = t.actor("a");
  const number = t.phone("a");
  await a.client.phoneNumber.sendOtp({ phoneNumber: "not-a-number" });
  await a.client.phoneNumber.sendOtp({ phoneNumber: number });
  const sms = await t.sms(number);
  await a.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code === "000000" ? "111111" : "000000" });
  await a.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none" });
  await a.client.getSession();
  // Spent.
  await t.actor("b").client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none" });
  await t.actor("c").client.phoneNumber.verify({ phoneNumber: t.phone("nobody"), code: "123456" });
  return { kind: sms?.kind, codeLength: sms?.code?.length, jar: a.cookieNames() };
});

scenario("phone-number/too-many-attempts", async (t) => {
  const a = t.actor("a");
  const number = t.phone("a");
  await a.client.phoneNumber.sendOtp({ phoneNumber: number });
  const sms = await t.sms(number);
  const wrong = sms?.code === "000000" ? "111111" : "000000";
  for (let i = 0; i < 3; i++) await a.client.phoneNumber.verify({ phoneNumber: number, code: wrong });
  await a.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none" });
  await a.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none" });
  await a.client.getSession();
});

scenario("phone-number/verify-disable-session", async (t) => {
  const { number } = await phoneUser(t);
  const b = t.actor("b");
  await b.client.phoneNumber.sendOtp({ phoneNumber: number });
  const sms = await t.sms(number);
  await b.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none", disableSession: true });
  await b.client.getSession();
  return { jar: b.cookieNames() };
});

scenario("phone-number/password-reset-and-sign-in", async (t) => {
  const { number } = await phoneUser(t);
  const b = t.actor("b");
  // No password yet.
  await b.client.signIn.phoneNumber({ phoneNumber: number, password: PW });
  await b.client.phoneNumber.requestPasswordReset({ phoneNumber: number });
  const sms = await t.sms(number);
  await b.client.phoneNumber.resetPassword({ phoneNumber: number, otp: sms?.code ?? "none", newPassword: "short" });
  await b.client.phoneNumber.resetPassword({ phoneNumber: number, otp: sms?.code === "000000" ? "111111" : "000000", newPassword: PW });
  await b.client.phoneNumber.resetPassword({ phoneNumber: number, otp: sms?.code ?? "none", newPassword: PW });
  await b.client.phoneNumber.resetPassword({ phoneNumber: number, otp: sms?.code ?? "none", newPassword: PW2 });
  await b.client.signIn.phoneNumber({ phoneNumber: number, password: "wrong-password-1" });
  await b.client.signIn.phoneNumber({ phoneNumber: t.phone("nobody"), password: PW });
  await b.client.signIn.phoneNumber({ phoneNumber: number, password: PW, rememberMe: false });
  await b.client.getSession();
  const c = t.actor("c");
  await c.client.signIn.phoneNumber({ phoneNumber: number, password: PW });
  await c.client.getSession();
  return { kind: sms?.kind, jarB: b.cookieNames(), jarC: c.cookieNames() };
});

scenario("phone-number/update-number", async (t) => {
  const { a } = await signedUp(t, "u");
  await a.client.updateUser({ phoneNumber: t.phone("u") });
  const number = t.phone("u");
  await a.client.phoneNumber.sendOtp({ phoneNumber: number });
  const sms = await t.sms(number);
  await a.client.phoneNumber.verify({ phoneNumber: number, code: sms?.code ?? "none", updatePhoneNumber: true });
  await a.client.getSession();
  // Someone else proving the same number cannot take it.
  const { a: b } = await signedUp(t, "v");
  await b.client.phoneNumber.sendOtp({ phoneNumber: number });
  const sms2 = await t.sms(number);
  await b.client.phoneNumber.verify({ phoneNumber: number, code: sms2?.code ?? "none", updatePhoneNumber: true });
  // Cleared by update-user.
  await a.client.updateUser({ phoneNumber: null });
  await a.client.getSession();
});

scenario("phone-number/sign-up-cannot-set-number", async (t) => {
  const a = t.actor("a");
  await a.client.signUp.email({ name: "Phone", email: t.email("a"), password: PW, phoneNumber: t.phone("a") });
});

// ---------------------------------------------------------------- social sign-in
// A generic OAuth provider ("local-oidc": the OpenID provider of tests/providers,
// from its discovery document) and the built-in "github" (the GitHub-shaped
// server). `t.idp.login(url)` is the user's browser at the provider.

/** signIn.social through the provider's login; returns the callback URL (not yet opened). */
async function socialRedirect(t, a, body) {
  const r = await a.client.signIn.social({ disableRedirect: false, ...body });
  const url = r.data?.url;
  return url ? t.idp.login(url) : null;
}

scenario("social/oidc-sign-in-and-tokens", async (t) => {
  const a = t.actor("a");
  const login = t.email("alice");
  const body = { provider: "local-oidc", callbackURL: "/dashboard", newUserCallbackURL: "/welcome", loginHint: login };
  const cb = await socialRedirect(t, a, body);
  await a.request("GET", cb);
  const session = await a.client.getSession();
  // The used state cannot finish a flow twice.
  await a.request("GET", cb);
  // A returning user goes to callbackURL (in another browser: Better Auth
  // 1.7.25 with multi-session expires the session cookie it has just set when
  // a signed-in browser signs in again this way).
  const b = t.actor("b");
  const again = await socialRedirect(t, b, body);
  await b.request("GET", again);
  const accounts = await a.client.listAccounts();
  const accountId = accounts.data?.[0]?.id;
  const token = await a.client.$fetch("/get-access-token", { method: "POST", body: { accountId } });
  await a.client.$fetch("/refresh-token", { method: "POST", body: { accountId } });
  await a.client.$fetch("/account-info", { method: "GET", query: { accountId } });
  // The only account cannot be unlinked.
  await a.client.unlinkAccount({ accountId });
  return {
    user: session.data?.user,
    accountKeys: Object.keys(accounts.data?.[0] ?? {}).sort(),
    tokenKeys: Object.keys(token.data ?? {}).sort(),
  };
});

scenario("social/oidc-callback-failures", async (t) => {
  const a = t.actor("a");
  // The user cancels at the provider: the flow's errorCallbackURL gets the provider's error.
  const cancelled = await socialRedirect(t, a, { provider: "local-oidc", errorCallbackURL: "/oops", loginHint: "deny@example.com" });
  await a.request("GET", cancelled);
  // Another browser (no state cookie) cannot finish the flow.
  const cb = await socialRedirect(t, a, { provider: "local-oidc", loginHint: t.email("b") });
  const other = t.actor("other");
  await other.request("GET", cb);
  // An answer naming another issuer (RFC 9207).
  const cb2 = await socialRedirect(t, a, { provider: "local-oidc", loginHint: t.email("c") });
  const forged = new URL(cb2);
  forged.searchParams.set("iss", "http://evil.example");
  await a.request("GET", forged.toString());
  // No state at all.
  await a.request("GET", "/callback/local-oidc?code=abc");
  // A form-posted callback (Apple's form_post) is sent on to the GET form.
  await a.request("POST", "/callback/local-oidc", { body: { code: "abc", state: "xyz" } });
  // Refusals before any redirect.
  await a.client.signIn.social({ provider: "nope" });
  await a.client.signIn.social({ provider: "local-oidc", callbackURL: "https://evil.example/" });
  await a.client.signIn.social({ provider: "github", idToken: { token: "a.b.c" } });
  await a.client.signIn.social({ provider: "local-oidc", disableRedirect: true });
});

scenario("social/squatter-not-taken-over", async (t) => {
  // Someone registered the address first (unverified); the provider's verified
  // identity with that address must not get their account.
  const { email } = await signedUp(t, "squatter");
  const a = t.actor("a");
  const cb = await socialRedirect(t, a, { provider: "local-oidc", loginHint: email });
  await a.request("GET", cb);
  await a.client.getSession();
});

scenario("social/unverified-provider-address", async (t) => {
  const a = t.actor("a");
  const cb = await socialRedirect(t, a, { provider: "local-oidc", loginHint: `unverified.${t.email("a")}` });
  await a.request("GET", cb);
  const s = await a.client.getSession();
  return { emailVerified: s.data?.user?.emailVerified };
});

scenario("social/link-and-unlink", async (t) => {
  const { a, email } = await signedUp(t, "u");
  const r = await a.client.linkSocial({ provider: "local-oidc", callbackURL: "/settings", loginHint: email });
  const cb = r.data?.url ? await t.idp.login(r.data.url) : null;
  await a.request("GET", cb);
  const accounts = await a.client.listAccounts();
  const linked = accounts.data?.find((x) => x.providerId === "local-oidc");
  await a.client.unlinkAccount({ accountId: linked?.id });
  await a.client.listAccounts();
});

scenario("social/github", async (t) => {
  const a = t.actor("a");
  const login = `octo-${t.email("a").split("@")[0].replace(/[^a-z0-9]/g, "")}`;
  const cb = await socialRedirect(t, a, { provider: "github", callbackURL: "/home", loginHint: login });
  await a.request("GET", cb);
  await a.client.getSession();
  await a.client.listAccounts();
});

scenario("social/loopback-gatehouse-only", async (t) => {
  // Gatehouse's desktop sign-in (RFC 8252 loopback redirect): Better Auth has
  // no such routes and answers 404; Gatehouse refuses a non-loopback address
  // and an unknown code (the full flow runs in tests/e2e and sdk/tests).
  const a = t.actor("a");
  await a.request("GET", "/sign-in/social/loopback?provider=local-oidc&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcb&code_challenge=x&state=s");
  await a.request("POST", "/sign-in/social/loopback/token", {
    body: { code: "not-a-code", codeVerifier: "v".repeat(43), redirectURI: "http://127.0.0.1:1/cb" },
  });
});

scenario("social/id-token-sign-in", async (t) => {
  const a = t.actor("a");
  const login = t.email("a");
  const token = await t.idp.idToken(login, "nonce-1");
  await a.client.signIn.social({ provider: "local-oidc", idToken: { token, nonce: "wrong" } });
  await a.client.signIn.social({ provider: "local-oidc", idToken: { token, nonce: "nonce-1" } });
  await a.client.getSession();
});

// ---------------------------------------------------------------- oauth-provider
// Both servers as an OAuth 2.1 / OpenID provider: oauthProvider({ loginPage:
// "/sign-in", consentPage: "/consent", allowDynamicClientRegistration: true }) with
// jwt() / [oauth_provider] login_page, consent_page, allow_dynamic_client_registration.
// The relying party ("rp", no cookies) talks to the token, introspection,
// revocation and userinfo endpoints with form posts; the user ("u") drives
// authorize, the sign-in and consent hand-off, and manages clients and consents
// with JSON. Client ids and secrets, codes, tokens and times are masked (see
// lib/normalise.mjs); what they stand for is checked in the results.

const OP_REDIRECT = "https://client.example/cb";
const OP_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const OP_CHALLENGE = createHash("sha256").update(OP_VERIFIER).digest("base64url");
const OP_SCOPES = "openid profile email offline_access";

/** A confidential client created by `owner` (create-client); its body ({client_id, client_secret, ...}). */
async function opClient(owner, extra = {}) {
  const r = await owner.request("POST", "/oauth2/create-client", {
    body: { redirect_uris: [OP_REDIRECT], client_name: "Compat App", grant_types: ["authorization_code", "refresh_token"], ...extra },
  });
  return r.body ?? {};
}

/** An authorization request's path for `clientId` (PKCE S256, state, nonce); `extra` overrides, null drops. */
function opAuthorizePath(clientId, extra = {}) {
  const q = {
    response_type: "code",
    client_id: clientId,
    redirect_uri: OP_REDIRECT,
    scope: OP_SCOPES,
    state: "st-123",
    code_challenge: OP_CHALLENGE,
    code_challenge_method: "S256",
    nonce: "n-456",
    ...extra,
  };
  for (const k of Object.keys(q)) if (q[k] === null) delete q[k];
  return `/oauth2/authorize?${new URLSearchParams(q)}`;
}

/** Where a {redirect, url} answer (or a 302) sends the browser. */
const opNext = (r) => r?.body?.url ?? r?.location ?? null;
/** The query of a URL (the signed oauth_query of a login or consent page). */
const opQuery = (url) => (url && url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
/** A page's path ("/sign-in", "/consent", or the client's redirect URI). */
const opPage = (url) => (url ? (url.startsWith(OP_REDIRECT) ? "redirect_uri" : new URL(url, "http://x.invalid").pathname) : null);
/** A parameter of the URL. */
const opParam = (url, k) => (url ? new URL(url, "http://x.invalid").searchParams.get(k) : null);

/** The client's redirect URI as the RP sees it: which keys came back, and the error if any. */
function opAnswer(url) {
  if (!url) return null;
  const u = new URL(url, "http://x.invalid");
  // An error for response_type=token may come in the fragment.
  const p = u.hash ? new URLSearchParams(u.hash.slice(1)) : u.searchParams;
  return {
    page: opPage(url),
    in: u.hash ? "fragment" : "query",
    keys: [...p.keys()],
    error: p.get("error"),
    stateKept: p.get("state") === "st-123",
  };
}

/**
 * Signed in as `u`, runs authorize for `clientId` and, when the consent page
 * comes, accepts; returns the code (or null) and the URLs seen.
 */
async function opCode(u, clientId, extra = {}) {
  const r = await u.request("GET", opAuthorizePath(clientId, extra));
  let url = opNext(r);
  if (opPage(url) === "/consent") {
    const c = await u.request("POST", "/oauth2/consent", { body: { accept: true, oauth_query: opQuery(url) } });
    url = opNext(c);
  }
  return { code: opParam(url, "code"), url };
}

/** A form post by the RP (no cookies): Basic client authentication when `basic` is [id, secret]. */
async function opForm(rp, t, path, fields, { basic, headers } = {}) {
  const h = new Headers(headers);
  h.set("content-type", "application/x-www-form-urlencoded");
  if (basic) h.set("authorization", `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString("base64")}`);
  const form = new URLSearchParams(Object.entries(fields).filter(([, v]) => v !== undefined));
  const res = await rp.fetch(`${t.base}${path}`, { method: "POST", headers: h, body: form.toString() });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body, wwwAuthenticate: res.headers.get("www-authenticate"), cacheControl: res.headers.get("cache-control") };
}

/** The token request for a code (PKCE verifier, redirect URI, Basic). */
const opRedeem = (rp, t, c, code, extra = {}) =>
  opForm(rp, t, "/oauth2/token", { grant_type: "authorization_code", code: code ?? "none", redirect_uri: OP_REDIRECT, code_verifier: OP_VERIFIER, ...extra }, { basic: [c.client_id, c.client_secret] });

/** What a token answer holds, tokens reduced to presence. */
function opTokens(r) {
  const b = r?.body ?? {};
  return {
    status: r?.status,
    keys: Object.keys(b).sort(),
    token_type: b.token_type,
    expires_in: b.expires_in,
    expiresAtMatches: typeof b.expires_at === "number" ? Math.abs(b.expires_at - Math.floor(Date.now() / 1000) - b.expires_in) <= 5 : null,
    scope: b.scope,
    cacheControl: r?.cacheControl,
  };
}

/** An ID token checked against the server's JWKS: header, protocol claims, and what it says about whom. */
async function opIdToken(t, u, idToken, { clientId, userId, sessionId, accessToken }) {
  if (!idToken) return null;
  const jwks = (await u.request("GET", "/jwks")).body;
  const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(jwks), { issuer: t.base, audience: clientId });
  const profile = ["name", "given_name", "family_name", "picture", "email", "email_verified"];
  const digest = createHash(protectedHeader.alg === "EdDSA" ? "sha512" : "sha256").update(accessToken ?? "").digest();
  return {
    alg: protectedHeader.alg,
    typ: protectedHeader.typ ?? null,
    kidInJwks: jwks.keys.some((k) => k.kid === protectedHeader.kid),
    // Which claims are present (by name, so that one more or less shows as that claim).
    protocolClaims: Object.fromEntries(Object.keys(payload).filter((k) => !profile.includes(k)).sort().map((k) => [k, true])),
    profileClaims: Object.fromEntries(Object.keys(payload).filter((k) => profile.includes(k)).sort().map((k) => [k, true])),
    subIsUser: payload.sub === userId,
    nonce: payload.nonce ?? null,
    atHashOk: payload.at_hash === digest.subarray(0, digest.length / 2).toString("base64url"),
    lifetime: payload.exp - payload.iat,
    authTimeRecent: typeof payload.auth_time === "number" ? Math.abs(payload.auth_time - payload.iat) < 120 : null,
    sidIsSession: payload.sid === undefined ? null : payload.sid === sessionId,
    acr: payload.acr ?? null,
  };
}

scenario("oauth-provider/discovery", async (t) => {
  const a = t.actor("a");
  const oidc = await a.request("GET", "/.well-known/openid-configuration");
  await a.request("GET", "/.well-known/oauth-authorization-server");
  await a.request("POST", "/.well-known/openid-configuration", { body: {} });
  const d = oidc.body ?? {};
  return {
    issuerIsBase: d.issuer === t.base,
    endpoints: Object.fromEntries(
      Object.entries(d)
        .filter(([k, v]) => (k.endsWith("_endpoint") || k === "jwks_uri") && typeof v === "string")
        .map(([k, v]) => [k, v.startsWith(t.base) ? v.slice(t.base.length) : v]),
    ),
  };
});

scenario("oauth-provider/register", async (t) => {
  const anon = t.actor("anon");
  await anon.request("POST", "/oauth2/register", { body: { redirect_uris: [OP_REDIRECT], client_name: "Dyn" } });
  const { a: u } = await signedUp(t, "u");
  const confidential = await u.request("POST", "/oauth2/register", { body: { redirect_uris: [OP_REDIRECT], client_name: "Dyn" } });
  const pub = await u.request("POST", "/oauth2/register", {
    body: { redirect_uris: [OP_REDIRECT], client_name: "Dyn Public", token_endpoint_auth_method: "none", scope: "openid profile" },
  });
  await u.request("POST", "/oauth2/register", {
    body: { redirect_uris: ["http://127.0.0.1:8123/cb"], client_name: "Native", application_type: "native", grant_types: ["authorization_code", "refresh_token"] },
  });
  // Refusals: a web client on plain http, no redirect URI, an unknown scope.
  await u.request("POST", "/oauth2/register", { body: { redirect_uris: ["http://app.example/cb"], client_name: "Plain" } });
  await u.request("POST", "/oauth2/register", { body: { client_name: "Nowhere" } });
  await u.request("POST", "/oauth2/register", { body: { redirect_uris: [OP_REDIRECT], scope: "openid admin" } });
  await u.request("POST", "/oauth2/register", { body: { redirect_uris: ["not a url"] } });
  // The registered client is the user's.
  const listed = (await u.request("GET", "/oauth2/get-clients")).body;
  const c = confidential.body ?? {};
  return {
    secretShape: typeof c.client_secret === "string" ? c.client_secret.replace(/[A-Za-z]/g, "x") : null,
    idShape: typeof c.client_id === "string" ? c.client_id.replace(/[A-Za-z]/g, "x") : null,
    publicHasSecret: pub.body ? "client_secret" in pub.body : null,
    listedIds: Array.isArray(listed) ? listed.map((x) => (x.client_id === c.client_id ? "confidential" : x.client_id === pub.body?.client_id ? "public" : "other")).sort() : listed,
  };
});

scenario("oauth-provider/clients", async (t) => {
  const anon = t.actor("anon");
  await anon.request("POST", "/oauth2/create-client", { body: { redirect_uris: [OP_REDIRECT] } });
  const { a: u } = await signedUp(t, "u");
  const { a: other } = await signedUp(t, "other");
  const c = await opClient(u, { client_uri: "https://client.example", logo_uri: "https://client.example/logo.png", contacts: ["ops@client.example"] });
  const pub = await opClient(u, { client_name: "Compat SPA", token_endpoint_auth_method: "none" });
  await u.request("POST", "/oauth2/create-client", { body: { client_name: "Nowhere" } });
  await u.request("GET", `/oauth2/get-client?client_id=${c.client_id}`);
  await u.request("GET", "/oauth2/get-client?client_id=no-such-client");
  await other.request("GET", `/oauth2/get-client?client_id=${c.client_id}`);
  await anon.request("GET", `/oauth2/get-client?client_id=${c.client_id}`);
  const listed = (await u.request("GET", "/oauth2/get-clients")).body;
  await other.request("GET", "/oauth2/get-clients");
  // What a consent page may show: any signed-in user may read it.
  await other.request("GET", `/oauth2/public-client?client_id=${c.client_id}`);
  await u.request("GET", "/oauth2/public-client?client_id=no-such-client");
  await anon.request("GET", `/oauth2/public-client?client_id=${c.client_id}`);
  // A partial update, then the whole metadata.
  await u.request("POST", "/oauth2/update-client", { body: { client_id: c.client_id, update: { client_name: "Compat App 2" } } });
  await u.request("POST", "/oauth2/update-client", {
    body: {
      client_id: c.client_id,
      update: {
        redirect_uris: [OP_REDIRECT],
        client_name: "Compat App 2",
        grant_types: ["authorization_code", "refresh_token"],
        client_uri: "https://client.example",
        logo_uri: "https://client.example/logo.png",
        contacts: ["ops@client.example"],
      },
    },
  });
  await other.request("POST", "/oauth2/update-client", { body: { client_id: c.client_id, update: { client_name: "stolen" } } });
  const rotated = await u.request("POST", "/oauth2/client/rotate-secret", { body: { client_id: c.client_id } });
  await u.request("POST", "/oauth2/client/rotate-secret", { body: { client_id: pub.client_id } });
  await other.request("POST", "/oauth2/client/rotate-secret", { body: { client_id: c.client_id } });
  // The old secret no longer authenticates; the new one does.
  const rp = t.actor("rp", { noCookies: true });
  const oldSecret = await opForm(rp, t, "/oauth2/introspect", { token: "x" }, { basic: [c.client_id, c.client_secret] });
  const newSecret = await opForm(rp, t, "/oauth2/introspect", { token: "x" }, { basic: [c.client_id, rotated.body?.client_secret] });
  await other.request("POST", "/oauth2/delete-client", { body: { client_id: c.client_id } });
  await u.request("POST", "/oauth2/delete-client", { body: { client_id: c.client_id } });
  await u.request("GET", `/oauth2/get-client?client_id=${c.client_id}`);
  await u.request("POST", "/oauth2/delete-client", { body: { client_id: c.client_id } });
  const after = (await u.request("GET", "/oauth2/get-clients")).body;
  return {
    created: { confidentialHasSecret: typeof c.client_secret === "string", publicHasSecret: "client_secret" in pub },
    listed: Array.isArray(listed) ? listed.map((x) => x.client_name).sort() : listed,
    rotatedIsNew: typeof rotated.body?.client_secret === "string" && rotated.body.client_secret !== c.client_secret,
    oldSecretStatus: oldSecret.status,
    newSecretStatus: newSecret.status,
    after: Array.isArray(after) ? after.map((x) => x.client_name).sort() : after,
  };
});

scenario("oauth-provider/authorize-sign-in-and-consent", async (t) => {
  const { a: owner } = await signedUp(t, "owner");
  const c = await opClient(owner);
  const email = t.email("user");
  await t.actor("signup").client.signUp.email({ name: "Ada Lovelace", email, password: PW });
  const u = t.actor("u");
  // Signed out: the login page, with the signed query.
  const login = await u.request("GET", opAuthorizePath(c.client_id));
  const loginUrl = opNext(login);
  // The sign-in carries the login page's query, as oauthProviderClient sends it:
  // its answer is where the browser goes next (the consent page).
  const signIn = await u.client.signIn.email({ email, password: PW, oauth_query: opQuery(loginUrl) });
  const consentUrl = signIn.data?.url ?? null;
  const session = (await u.client.getSession()).data;
  await u.request("GET", `/oauth2/public-client?client_id=${c.client_id}`);
  // A tampered query is refused.
  await u.request("POST", "/oauth2/consent", { body: { accept: true, oauth_query: opQuery(consentUrl).replace("st-123", "st-999") } });
  await u.request("POST", "/oauth2/consent", { body: { accept: true } });
  await t.actor("anon").request("POST", "/oauth2/consent", { body: { accept: true, oauth_query: opQuery(consentUrl) } });
  // Denied, then accepted.
  const denied = await u.request("POST", "/oauth2/consent", { body: { accept: false, oauth_query: opQuery(consentUrl) } });
  const accepted = await u.request("POST", "/oauth2/consent", { body: { accept: true, oauth_query: opQuery(consentUrl) } });
  // Consented: straight to the code; a smaller request too; prompt=consent asks again.
  const again = await u.request("GET", opAuthorizePath(c.client_id));
  const narrower = await u.request("GET", opAuthorizePath(c.client_id, { scope: "openid email" }));
  const prompted = await u.request("GET", opAuthorizePath(c.client_id, { prompt: "consent" }));
  const partial = await u.request("POST", "/oauth2/consent", { body: { accept: true, scope: "openid profile", oauth_query: opQuery(opNext(prompted)) } });
  await u.request("POST", "/oauth2/consent", { body: { accept: true, scope: "openid admin", oauth_query: opQuery(opNext(prompted)) } });
  // prompt=none: a code when consented, an error for the RP otherwise.
  const none = await u.request("GET", opAuthorizePath(c.client_id, { prompt: "none", scope: "openid profile" }));
  const noneSignedOut = await t.actor("anon").request("GET", opAuthorizePath(c.client_id, { prompt: "none" }));
  // The form-posted request (signed in, consented): the code.
  const posted = await u.fetch(`${t.base}/oauth2/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URL(opAuthorizePath(c.client_id, { scope: "openid profile" }), "http://x.invalid").search.slice(1),
  });
  const postedUrl = (await posted.json().catch(() => null))?.url ?? null;
  // prompt=login: back to the login page even though signed in (the wait: a
  // sign-in in the same second as the request, see the README), and the sign-in
  // from there goes on to the consent page (this request wants more than the
  // consent kept).
  await t.sleep(1100);
  const relogin = await u.request("GET", opAuthorizePath(c.client_id, { prompt: "login" }));
  // (Signed out first: Better Auth with multi-session expires the cookie of a
  // browser that signs in again as the same user, see core/delete-user.)
  await u.client.signOut();
  const reloginSignIn = await u.client.signIn.email({ email, password: PW, oauth_query: opQuery(opNext(relogin)) });
  return {
    signedInAsUser: session?.user?.email === email,
    pages: {
      login: opPage(loginUrl),
      loginUrlAbsolute: /^https?:/.test(loginUrl ?? ""),
      afterSignIn: opPage(consentUrl),
      signInKeys: Object.keys(signIn.data ?? {}).sort(),
      prompted: opPage(opNext(prompted)),
      relogin: opPage(opNext(relogin)),
      afterRelogin: opPage(reloginSignIn.data?.url ?? null),
    },
    answers: {
      denied: opAnswer(opNext(denied)),
      accepted: opAnswer(opNext(accepted)),
      again: opAnswer(opNext(again)),
      narrower: opAnswer(opNext(narrower)),
      partial: opAnswer(opNext(partial)),
      none: opAnswer(opNext(none)),
      noneSignedOut: opAnswer(opNext(noneSignedOut)),
      posted: opAnswer(postedUrl),
    },
    issParam: opParam(opNext(accepted), "iss") === t.base,
  };
});

scenario("oauth-provider/continue-select-account", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const c = await opClient(u);
  await opCode(u, c.client_id);
  // prompt=select_account: the login page (Better Auth: selectAccount.page), then
  // continue with the account chosen.
  const chooser = await u.request("GET", opAuthorizePath(c.client_id, { prompt: "select_account" }));
  const q = opQuery(opNext(chooser));
  const chosen = await u.request("POST", "/oauth2/continue", { body: { selected: true, oauth_query: q } });
  await u.request("POST", "/oauth2/continue", { body: { oauth_query: q } });
  await u.request("POST", "/oauth2/continue", { body: { selected: true } });
  await t.actor("anon").request("POST", "/oauth2/continue", { body: { selected: true, oauth_query: q } });
  // The code it gave is good.
  const rp = t.actor("rp", { noCookies: true });
  const tok = await opRedeem(rp, t, c, opParam(opNext(chosen), "code"));
  return { chooser: opPage(opNext(chooser)), chosen: opAnswer(opNext(chosen)), tokens: opTokens(tok) };
});

scenario("oauth-provider/token-authorization-code", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const session = (await u.client.getSession()).data;
  const c = await opClient(u);
  const rp = t.actor("rp", { noCookies: true });
  const basic = { basic: [c.client_id, c.client_secret] };
  // Redeemed with the PKCE verifier and Basic authentication.
  const { code } = await opCode(u, c.client_id);
  const ok = await opRedeem(rp, t, c, code);
  const id = await opIdToken(t, u, ok.body?.id_token, { clientId: c.client_id, userId: session?.user?.id, sessionId: session?.session?.id, accessToken: ok.body?.access_token });
  // A replayed code is refused, and what it issued stops working.
  const replay = await opRedeem(rp, t, c, code);
  const afterReplay = await opForm(rp, t, "/oauth2/introspect", { token: ok.body?.access_token ?? "none" }, basic);
  const refreshAfterReplay = await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: ok.body?.refresh_token ?? "none" }, basic);
  // Refusals, each with a fresh code (Better Auth spends a code before it
  // authenticates the client, Gatehouse after).
  const fresh = async (extra) => (await opCode(u, c.client_id, extra)).code;
  const wrongSecret = await opRedeem(rp, t, { ...c, client_secret: "wrong-secret" }, await fresh());
  const viaPost = await opForm(rp, t, "/oauth2/token", {
    grant_type: "authorization_code",
    code: await fresh(),
    redirect_uri: OP_REDIRECT,
    code_verifier: OP_VERIFIER,
    client_id: c.client_id,
    client_secret: c.client_secret,
  });
  await opForm(rp, t, "/oauth2/token", { grant_type: "password", username: "x", password: "y" }, basic);
  await opForm(rp, t, "/oauth2/token", { grant_type: "authorization_code", redirect_uri: OP_REDIRECT, code_verifier: OP_VERIFIER }, basic);
  await opRedeem(rp, t, c, "not-a-code");
  // PKCE: a wrong verifier, a missing one; another redirect URI.
  const badVerifier = await opRedeem(rp, t, c, await fresh(), { code_verifier: "x".repeat(43) });
  const noVerifier = await opRedeem(rp, t, c, await fresh(), { code_verifier: undefined });
  const otherRedirect = await opRedeem(rp, t, c, await fresh(), { redirect_uri: "https://client.example/other" });
  // Without offline_access: no refresh token; without openid: no ID token.
  const noOpenid = await opRedeem(rp, t, c, await fresh({ scope: "profile email", nonce: null }));
  const noOffline = await opRedeem(rp, t, c, await fresh({ scope: "openid email" }));
  // A JSON token request.
  const json = await rp.request("POST", "/oauth2/token", {
    body: { grant_type: "authorization_code", code: await fresh(), redirect_uri: OP_REDIRECT, code_verifier: OP_VERIFIER },
    headers: { authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}` },
  });
  return {
    ok: opTokens(ok),
    idToken: id,
    wrongSecret: { status: wrongSecret.status, error: wrongSecret.body?.error, wwwAuthenticate: wrongSecret.wwwAuthenticate ? wrongSecret.wwwAuthenticate.split(" ")[0] : null },
    viaPost: `${viaPost.status} ${viaPost.body?.error}`,
    replay: `${replay.status} ${replay.body?.error}`,
    replayActive: afterReplay.body?.active ?? null,
    refreshAfterReplay: refreshAfterReplay.body?.error ?? null,
    pkce: [badVerifier, noVerifier].map((r) => `${r.status} ${r.body?.error}`),
    otherRedirect: `${otherRedirect.status} ${otherRedirect.body?.error}`,
    noOpenid: opTokens(noOpenid),
    noOffline: opTokens(noOffline),
    json: json.status,
  };
});

scenario("oauth-provider/authorize-refusals", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const c = await opClient(u);
  await opCode(u, c.client_id);
  const pub = await opClient(u, { client_name: "Compat SPA", token_endpoint_auth_method: "none" });
  const answers = {};
  for (const [name, extra] of [
    ["noPkceConfidential", { code_challenge: null, code_challenge_method: null, nonce: null, scope: "openid profile" }],
    ["noPkcePublic", { client_id: pub.client_id, code_challenge: null, code_challenge_method: null, scope: "openid" }],
    ["plainPkce", { code_challenge_method: "plain" }],
    ["badScope", { scope: "openid admin" }],
    ["responseTypeToken", { response_type: "token" }],
  ]) {
    const r = await u.request("GET", opAuthorizePath(extra.client_id ?? c.client_id, { ...extra, client_id: extra.client_id ?? c.client_id }));
    answers[name] = opAnswer(opNext(r));
  }
  // An unregistered redirect URI or an unknown client is never redirected to.
  await u.request("GET", opAuthorizePath(c.client_id, { redirect_uri: "https://evil.example/cb" }));
  await u.request("GET", opAuthorizePath("no-such-client"));
  return answers;
});

scenario("oauth-provider/refresh-rotation", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const c = await opClient(u);
  const rp = t.actor("rp", { noCookies: true });
  const { code } = await opCode(u, c.client_id);
  const first = await opRedeem(rp, t, c, code);
  const basic = { basic: [c.client_id, c.client_secret] };
  const r1 = first.body?.refresh_token ?? "none";
  const second = await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: r1 }, basic);
  const r2 = second.body?.refresh_token ?? "none";
  // The access token from before the rotation still works.
  const oldAccess = await opForm(rp, t, "/oauth2/introspect", { token: first.body?.access_token ?? "none" }, basic);
  // A narrower access token from the new refresh token.
  const narrowed = await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: r2, scope: "openid profile" }, basic);
  const r3 = narrowed.body?.refresh_token ?? "none";
  await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: r3, scope: "openid admin" }, basic);
  // The spent first token comes back: refused, and the family is revoked.
  const reuse = await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: r1 }, basic);
  const latest = await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: r3 }, basic);
  const introspected = await opForm(rp, t, "/oauth2/introspect", { token: r3, token_type_hint: "refresh_token" }, basic);
  const familyAccess = await opForm(rp, t, "/oauth2/introspect", { token: narrowed.body?.access_token ?? "none" }, basic);
  await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: "not-a-token" }, basic);
  await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token" }, basic);
  return {
    first: opTokens(first),
    second: opTokens(second),
    rotated: r2 !== r1,
    narrowed: opTokens(narrowed),
    reuse: `${reuse.status} ${reuse.body?.error}`,
    latestAfterReuse: `${latest.status} ${latest.body?.error}`,
    latestActive: introspected.body?.active ?? null,
    oldAccessActiveAfterRotation: oldAccess.body?.active ?? null,
    familyAccessActiveAfterReuse: familyAccess.body?.active ?? null,
  };
});

scenario("oauth-provider/introspect-revoke-userinfo", async (t) => {
  const { a: u } = await signedUp(t, "u", { name: "Grace Brewster Hopper" });
  const c = await opClient(u);
  const other = await opClient(u, { client_name: "Other App" });
  const rp = t.actor("rp", { noCookies: true });
  const basic = { basic: [c.client_id, c.client_secret] };
  const { code } = await opCode(u, c.client_id);
  const tok = (await opRedeem(rp, t, c, code)).body ?? {};
  const at = tok.access_token ?? "none";
  const rt = tok.refresh_token ?? "none";
  // userinfo: the claims of the token's scopes.
  await rp.request("GET", "/oauth2/userinfo", { headers: { authorization: `Bearer ${at}` } });
  await rp.request("POST", "/oauth2/userinfo", { headers: { authorization: `Bearer ${at}` } });
  await rp.request("GET", "/oauth2/userinfo");
  await rp.request("GET", "/oauth2/userinfo", { headers: { authorization: "Bearer not-a-token" } });
  const { code: code2 } = await opCode(u, c.client_id, { scope: "profile email", nonce: null });
  const noOpenid = (await opRedeem(rp, t, c, code2)).body ?? {};
  await rp.request("GET", "/oauth2/userinfo", { headers: { authorization: `Bearer ${noOpenid.access_token ?? "none"}` } });
  // introspection: by the issuing client; another client learns nothing.
  await opForm(rp, t, "/oauth2/introspect", { token: at }, basic);
  await opForm(rp, t, "/oauth2/introspect", { token: rt, token_type_hint: "refresh_token" }, basic);
  await opForm(rp, t, "/oauth2/introspect", { token: "not-a-token" }, basic);
  await opForm(rp, t, "/oauth2/introspect", { token: at }, { basic: [other.client_id, other.client_secret] });
  await opForm(rp, t, "/oauth2/introspect", { token: at });
  await opForm(rp, t, "/oauth2/introspect", { token: at }, { basic: [c.client_id, "wrong-secret"] });
  // revocation: not by another client; the access token, then the refresh
  // token (and what it issued).
  await opForm(rp, t, "/oauth2/revoke", { token: at }, { basic: [other.client_id, other.client_secret] });
  await opForm(rp, t, "/oauth2/introspect", { token: at }, basic);
  await opForm(rp, t, "/oauth2/revoke", { token: at, token_type_hint: "access_token" }, basic);
  await opForm(rp, t, "/oauth2/introspect", { token: at }, basic);
  await rp.request("GET", "/oauth2/userinfo", { headers: { authorization: `Bearer ${at}` } });
  const refreshed = (await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: rt }, basic)).body ?? {};
  await opForm(rp, t, "/oauth2/revoke", { token: refreshed.refresh_token ?? "none", token_type_hint: "refresh_token" }, basic);
  await opForm(rp, t, "/oauth2/introspect", { token: refreshed.refresh_token ?? "none", token_type_hint: "refresh_token" }, basic);
  // The access token issued with the revoked refresh token goes with it.
  await opForm(rp, t, "/oauth2/introspect", { token: refreshed.access_token ?? "none" }, basic);
  await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: refreshed.refresh_token ?? "none" }, basic);
  await opForm(rp, t, "/oauth2/revoke", { token: "x" });
  await opForm(rp, t, "/oauth2/revoke", { token: "not-a-token" }, basic);
});

scenario("oauth-provider/consents", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const { a: other } = await signedUp(t, "other");
  const c = await opClient(u);
  const c2 = await opClient(u, { client_name: "Second App" });
  await u.request("GET", "/oauth2/get-consents");
  await opCode(u, c.client_id);
  await opCode(u, c2.client_id, { scope: "openid profile" });
  const list = (await u.request("GET", "/oauth2/get-consents")).body;
  const mine = Array.isArray(list) ? list.find((x) => x.clientId === c.client_id) : null;
  const id = mine?.id ?? "missing";
  await u.request("GET", `/oauth2/get-consent?id=${id}`);
  await u.request("GET", "/oauth2/get-consent?id=no-such-consent");
  await other.request("GET", `/oauth2/get-consent?id=${id}`);
  await other.request("GET", "/oauth2/get-consents");
  await u.request("POST", "/oauth2/update-consent", { body: { id, update: { scopes: ["openid", "profile"] } } });
  await u.request("POST", "/oauth2/update-consent", { body: { id, update: { scopes: ["openid", "admin"] } } });
  await other.request("POST", "/oauth2/update-consent", { body: { id, update: { scopes: ["openid"] } } });
  // Narrowed: a request for email asks again.
  const again = await u.request("GET", opAuthorizePath(c.client_id));
  await other.request("POST", "/oauth2/delete-consent", { body: { id } });
  await u.request("POST", "/oauth2/delete-consent", { body: { id } });
  await u.request("POST", "/oauth2/delete-consent", { body: { id } });
  const after = (await u.request("GET", "/oauth2/get-consents")).body;
  const afterDelete = await u.request("GET", opAuthorizePath(c.client_id, { scope: "openid profile" }));
  await t.actor("anon").request("GET", "/oauth2/get-consents");
  return {
    listed: Array.isArray(list) ? list.map((x) => (x.clientId === c.client_id ? `c1:${x.scopes.join(" ")}` : `c2:${x.scopes.join(" ")}`)).sort() : list,
    againPage: opPage(opNext(again)),
    after: Array.isArray(after) ? after.length : after,
    afterDeletePage: opPage(opNext(afterDelete)),
  };
});

scenario("oauth-provider/client-credentials", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const m2m = await opClient(u, { client_name: "Service", grant_types: ["client_credentials"], redirect_uris: undefined, scope: "profile email" });
  const c = await opClient(u);
  const rp = t.actor("rp", { noCookies: true });
  const ok = await opForm(rp, t, "/oauth2/token", { grant_type: "client_credentials" }, { basic: [m2m.client_id, m2m.client_secret] });
  await opForm(rp, t, "/oauth2/token", { grant_type: "client_credentials" }, { basic: [c.client_id, c.client_secret] });
  return { ok: opTokens(ok) };
});

// Device authorization (RFC 8628), private_key_jwt, JWT access tokens for a
// resource (RFC 8707, RFC 9068) and token exchange (RFC 8693). Better Auth
// 1.7.5's oauth-provider has private_key_jwt and resources (the reference names
// its base URL as one, as Gatehouse's default valid audience), not device
// authorization or token exchange: there the flows show Gatehouse's answers
// beside Better Auth's 404s and refusals.

const OP_DEVICE = "urn:ietf:params:oauth:grant-type:device_code";
const OP_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const OP_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const OP_ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** `status error` of an OAuth answer. */
const opErr = (r) => `${r?.status} ${r?.body?.error ?? ""}`.trim();

/** A JSON Web Key pair for private_key_jwt (ES256, kid k1), public half registered. */
function opKeyPair() {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const meta = { kid: "k1", alg: "ES256" };
  return { publicJwk: { ...publicKey.export({ format: "jwk" }), ...meta, use: "sig" }, privateJwk: { ...privateKey.export({ format: "jwk" }), ...meta } };
}
const OP_CLIENT_KEY = opKeyPair();
/** Same kid, a key the client never registered. */
const OP_OTHER_KEY = opKeyPair();

/** A client assertion as Better Auth's own OAuth client signs one (iss = sub = client, aud, exp in 60 s, jti). */
const opAssertion = (clientId, aud, key = OP_CLIENT_KEY) =>
  signPrivateKeyJwtClientAssertion({ clientId: clientId ?? "none", tokenEndpoint: aud, privateKeyJwk: key.privateJwk, expiresIn: 60 });

/**
 * An access token described: a JWT's header type, claim names, and whether it
 * verifies against the server's `jwks` for `audience`; else opaque.
 */
async function opAccessJwt(t, jwks, token, { audience, sub }) {
  if (typeof token !== "string") return null;
  if (token.split(".").length !== 3) return { jwt: false };
  const header = decodeProtectedHeader(token);
  const payload = decodeJwt(token);
  let verified = true;
  try {
    await jwtVerify(token, createLocalJWKSet(jwks), { issuer: t.base, audience, typ: "at+jwt" });
  } catch (e) {
    verified = e?.code ?? String(e);
  }
  return {
    jwt: true,
    typ: header.typ ?? null,
    kidInJwks: jwks.keys.some((k) => k.kid === header.kid),
    // Which claims are present (by name, so that one more or less shows as that claim).
    claims: Object.fromEntries(Object.keys(payload).sort().map((k) => [k, true])),
    verified,
    subIs: payload.sub === sub,
    scope: payload.scope ?? null,
    lifetime: payload.exp - payload.iat,
  };
}

scenario("oauth-provider/device-authorization", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const session = (await u.client.getSession()).data;
  const { a: other } = await signedUp(t, "other");
  const tv = await opClient(u, { client_name: "Living-room TV", token_endpoint_auth_method: "none", application_type: "native", grant_types: [OP_DEVICE], redirect_uris: undefined });
  const dev = t.actor("device", { noCookies: true });
  const start = (scope) => opForm(dev, t, "/oauth2/device-authorization", { client_id: tv.client_id, scope });
  const poll = (code, clientId = tv.client_id) => opForm(dev, t, "/oauth2/token", { grant_type: OP_DEVICE, device_code: code ?? "none", client_id: clientId });
  const enter = (a, code) => a.request("GET", `/oauth2/device?${new URLSearchParams({ user_code: code ?? "none" })}`);
  const decide = (a, how, code) => a.request("POST", `/oauth2/device/${how}`, { body: { userCode: code ?? "none" } });
  // A: polled before anyone decides (pending, then too fast), entered, denied.
  const a = await start("openid profile offline_access");
  const pending = await poll(a.body?.device_code);
  const tooFast = await poll(a.body?.device_code);
  const signedOut = await enter(t.actor("anon"), a.body?.user_code);
  // Typed loosely: lower case, a space for the dash.
  const entered = await enter(u, a.body?.user_code?.toLowerCase().replace("-", " "));
  // Another signed-in user can neither take the code over nor decide on it.
  const othersEnter = await enter(other, a.body?.user_code);
  const othersApprove = await decide(other, "approve", a.body?.user_code);
  const othersDeny = await decide(other, "deny", a.body?.user_code);
  const denied = await decide(u, "deny", a.body?.user_code);
  const afterDeny = await poll(a.body?.device_code);
  const approveDenied = await decide(u, "approve", a.body?.user_code);
  // B: approved straight away (the decision enters it); one poll gets the tokens, once.
  const b = await start("openid profile offline_access");
  const approved = await decide(u, "approve", b.body?.user_code);
  const tokens = await poll(b.body?.device_code);
  const userinfo = await dev.request("GET", "/oauth2/userinfo", { headers: { authorization: `Bearer ${tokens.body?.access_token ?? "none"}` } });
  const again = await poll(b.body?.device_code);
  // Refusals: another client's device code, an unknown one, an unknown user
  // code, a scope beyond the client's, a client not registered for the grant.
  const tv2 = await opClient(u, { client_name: "Kitchen TV", token_endpoint_auth_method: "none", application_type: "native", grant_types: [OP_DEVICE], redirect_uris: undefined });
  const c = await start("openid");
  const otherClient = await poll(c.body?.device_code, tv2.client_id);
  const unknownCode = await poll("not-a-code");
  const unknownUserCode = await enter(u, "BCDF-GHJK");
  const badScope = await start("openid admin");
  const web = await opClient(u);
  const notRegistered = await opForm(dev, t, "/oauth2/device-authorization", { scope: "openid" }, { basic: [web.client_id, web.client_secret] });
  return {
    client: { created: typeof tv.client_id === "string", hasSecret: "client_secret" in tv },
    start: { status: a.status, keys: Object.keys(a.body ?? {}).sort(), userCodeShape: a.body?.user_code?.replace(/[A-Z]/g, "X") ?? null, interval: a.body?.interval ?? null, expires_in: a.body?.expires_in ?? null, cacheControl: a.cacheControl },
    pending: opErr(pending),
    tooFast: opErr(tooFast),
    signedOut: signedOut.status,
    entered: { status: entered.status, state: entered.body?.status ?? null, scope: entered.body?.scope ?? null, client_name: entered.body?.client_name ?? null, sameUserCode: entered.body?.user_code === a.body?.user_code },
    others: [othersEnter, othersApprove, othersDeny].map((r) => `${r.status} ${r.body?.error ?? r.body?.code ?? ""}`.trim()),
    denied: denied.status,
    afterDeny: opErr(afterDeny),
    approveDenied: `${approveDenied.status} ${approveDenied.body?.error ?? approveDenied.body?.code ?? ""}`.trim(),
    approved: approved.status,
    tokens: opTokens(tokens),
    userinfoSubIsUser: userinfo.body?.sub === session?.user?.id,
    again: opErr(again),
    otherClient: opErr(otherClient),
    unknownCode: opErr(unknownCode),
    unknownUserCode: `${unknownUserCode.status} ${unknownUserCode.body?.error ?? ""}`.trim(),
    badScope: opErr(badScope),
    notRegistered: opErr(notRegistered),
  };
});

scenario("oauth-provider/private-key-jwt", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const jwks = { keys: [OP_CLIENT_KEY.publicJwk] };
  const tokenEndpoint = `${t.base}/oauth2/token`;
  const withAssertion = (assertion, fields = {}) => ({ client_assertion_type: OP_ASSERTION, client_assertion: assertion, ...fields });
  // Registration: keys are required, and public ones only; no secret is issued.
  const m2mMeta = { client_name: "Service JWT", token_endpoint_auth_method: "private_key_jwt", grant_types: ["client_credentials"], redirect_uris: undefined, scope: "profile email" };
  await u.request("POST", "/oauth2/create-client", { body: m2mMeta });
  await u.request("POST", "/oauth2/create-client", { body: { ...m2mMeta, jwks: { keys: [OP_CLIENT_KEY.privateJwk] } } });
  const dyn = await u.request("POST", "/oauth2/register", { body: { redirect_uris: [OP_REDIRECT], client_name: "Dyn JWT", token_endpoint_auth_method: "private_key_jwt", jwks } });
  const app = await opClient(u, { client_name: "Web JWT", token_endpoint_auth_method: "private_key_jwt", jwks });
  const m2m = await opClient(u, { ...m2mMeta, jwks });
  const rp = t.actor("rp", { noCookies: true });
  // An authorization code redeemed with an assertion (aud: the token endpoint).
  const { code } = await opCode(u, app.client_id);
  const redeemed = await opForm(rp, t, "/oauth2/token", withAssertion(await opAssertion(app.client_id, tokenEndpoint), { grant_type: "authorization_code", code: code ?? "none", redirect_uri: OP_REDIRECT, code_verifier: OP_VERIFIER }));
  // The same assertion again: its jti is spent.
  const once = await opAssertion(app.client_id, tokenEndpoint);
  const refreshed = await opForm(rp, t, "/oauth2/token", withAssertion(once, { grant_type: "refresh_token", refresh_token: redeemed.body?.refresh_token ?? "none" }));
  const replayed = await opForm(rp, t, "/oauth2/token", withAssertion(once, { grant_type: "refresh_token", refresh_token: refreshed.body?.refresh_token ?? "none" }));
  // Client credentials with an assertion, then the same assertion again.
  const m2mAssertion = await opAssertion(m2m.client_id, tokenEndpoint);
  const cc = await opForm(rp, t, "/oauth2/token", withAssertion(m2mAssertion, { grant_type: "client_credentials" }));
  const ccReplayed = await opForm(rp, t, "/oauth2/token", withAssertion(m2mAssertion, { grant_type: "client_credentials" }));
  // Introspection and revocation with assertions addressed to the issuer.
  const at = refreshed.body?.access_token ?? "none";
  const introspected = await opForm(rp, t, "/oauth2/introspect", withAssertion(await opAssertion(app.client_id, t.base), { token: at }));
  // ... and to the introspection endpoint itself.
  const toEndpoint = await opForm(rp, t, "/oauth2/introspect", withAssertion(await opAssertion(app.client_id, `${t.base}/oauth2/introspect`), { token: at }));
  // Refusals: a key the client never registered, another audience, an
  // assertion for another client than client_id names, a secret.
  const otherKey = await opForm(rp, t, "/oauth2/introspect", withAssertion(await opAssertion(app.client_id, t.base, OP_OTHER_KEY), { token: at }));
  const otherAud = await opForm(rp, t, "/oauth2/introspect", withAssertion(await opAssertion(app.client_id, "https://elsewhere.example"), { token: at }));
  const mismatch = await opForm(rp, t, "/oauth2/introspect", withAssertion(await opAssertion(app.client_id, t.base), { token: at, client_id: m2m.client_id }));
  const secret = await opForm(rp, t, "/oauth2/introspect", { token: at }, { basic: [app.client_id, "not-a-secret"] });
  const revoked = await opForm(rp, t, "/oauth2/revoke", withAssertion(await opAssertion(app.client_id, t.base), { token: at }));
  const afterRevoke = await opForm(rp, t, "/oauth2/introspect", withAssertion(await opAssertion(app.client_id, t.base), { token: at }));
  return {
    registered: {
      app: { method: app.token_endpoint_auth_method ?? null, hasSecret: "client_secret" in app, keys: Array.isArray(app.jwks?.keys) ? app.jwks.keys.length : null },
      m2m: { method: m2m.token_endpoint_auth_method ?? null, hasSecret: "client_secret" in m2m },
      dynamic: { status: dyn.status, hasSecret: dyn.body ? "client_secret" in dyn.body : null },
    },
    redeemed: opTokens(redeemed),
    refreshed: opTokens(refreshed),
    replayed: opErr(replayed),
    cc: opTokens(cc),
    ccReplayed: opErr(ccReplayed),
    introspected: introspected.body?.active ?? opErr(introspected),
    toEndpoint: toEndpoint.body?.active ?? opErr(toEndpoint),
    otherKey: opErr(otherKey),
    otherAud: opErr(otherAud),
    mismatch: opErr(mismatch),
    secret: opErr(secret),
    revoked: revoked.status,
    afterRevoke: afterRevoke.body?.active ?? opErr(afterRevoke),
  };
});

scenario("oauth-provider/resource-jwt-access-token", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const session = (await u.client.getSession()).data;
  const rp = t.actor("rp", { noCookies: true });
  // The resource: the base URL (Gatehouse's default valid audience; the reference's one resource).
  const resource = t.origin;
  // Client credentials for the resource.
  const m2m = await opClient(u, { client_name: "Service", grant_types: ["client_credentials"], redirect_uris: undefined, scope: "profile email" });
  const m2mBasic = { basic: [m2m.client_id, m2m.client_secret] };
  const cc = await opForm(rp, t, "/oauth2/token", { grant_type: "client_credentials", resource }, m2mBasic);
  const ccOther = await opForm(rp, t, "/oauth2/token", { grant_type: "client_credentials", resource: "https://unknown.example" }, m2mBasic);
  // An authorization code for the resource, redeemed for it.
  const c = await opClient(u);
  const basic = { basic: [c.client_id, c.client_secret] };
  const { code } = await opCode(u, c.client_id, { resource });
  const tok = await opRedeem(rp, t, c, code, { resource });
  const at = tok.body?.access_token;
  const introspected = await opForm(rp, t, "/oauth2/introspect", { token: at ?? "none" }, basic);
  const userinfo = await rp.request("GET", "/oauth2/userinfo", { headers: { authorization: `Bearer ${at ?? "none"}` } });
  // The code's resource is kept without asking again; a refresh may name it too.
  const { code: code2 } = await opCode(u, c.client_id, { resource });
  const implicit = await opRedeem(rp, t, c, code2);
  const refreshed = await opForm(rp, t, "/oauth2/token", { grant_type: "refresh_token", refresh_token: tok.body?.refresh_token ?? "none", resource }, basic);
  // Without a resource, an opaque token.
  const { code: code3 } = await opCode(u, c.client_id);
  const plain = await opRedeem(rp, t, c, code3);
  // Resources the server does not know: at authorize, at the token endpoint.
  const badAuthorize = await u.request("GET", opAuthorizePath(c.client_id, { resource: "https://unknown.example" }));
  const { code: code4 } = await opCode(u, c.client_id);
  const badRedeem = await opRedeem(rp, t, c, code4, { resource: "https://unknown.example" });
  // The keys the tokens verify with, once all are signed.
  const jwks = (await rp.request("GET", "/jwks")).body;
  const user = { audience: resource, sub: session?.user?.id };
  return {
    cc: { ...opTokens(cc), accessToken: await opAccessJwt(t, jwks, cc.body?.access_token, { audience: resource, sub: m2m.client_id }) },
    ccOther: opErr(ccOther),
    code: { ...opTokens(tok), accessToken: await opAccessJwt(t, jwks, at, user) },
    introspected: { active: introspected.body?.active ?? null, keys: Object.keys(introspected.body ?? {}).sort() },
    userinfo: userinfo.status,
    implicit: await opAccessJwt(t, jwks, implicit.body?.access_token, user),
    refreshed: await opAccessJwt(t, jwks, refreshed.body?.access_token, user),
    plain: await opAccessJwt(t, jwks, plain.body?.access_token, user),
    badAuthorize: opAnswer(opNext(badAuthorize)),
    badRedeem: opErr(badRedeem),
  };
});

scenario("oauth-provider/token-exchange-refused", async (t) => {
  const { a: u } = await signedUp(t, "u");
  const c = await opClient(u);
  const rp = t.actor("rp", { noCookies: true });
  const { code } = await opCode(u, c.client_id);
  const at = (await opRedeem(rp, t, c, code)).body?.access_token ?? "none";
  const exchange = (client) =>
    opForm(rp, t, "/oauth2/token", { grant_type: OP_EXCHANGE, subject_token: at, subject_token_type: OP_ACCESS_TOKEN_TYPE, scope: "openid" }, { basic: [client.client_id, client.client_secret] });
  // A client registered for the grant, but not one the operator allows
  // (Gatehouse: token_exchange_clients); a client not registered for it.
  const registered = await opClient(u, { client_name: "Exchanger", grant_types: ["authorization_code", OP_EXCHANGE] });
  const byRegistered = await exchange(registered);
  const byOther = await exchange(c);
  // The subject token is untouched.
  const subject = await opForm(rp, t, "/oauth2/introspect", { token: at }, { basic: [c.client_id, c.client_secret] });
  return {
    registered: typeof registered.client_id === "string",
    byRegistered: opErr(byRegistered),
    byOther: opErr(byOther),
    subjectActive: subject.body?.active ?? null,
  };
});

const OP_LOGOUT = "https://client.example/logged-out";

/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). Both let a
 * client initiate it only with enable_end_session, which only the operator
 * sets: on the reference side the owner's cookie goes to reference-server.mjs's
 * /compat/enable-end-session, which calls Better Auth's server-side
 * adminUpdateOAuthClient; on Gatehouse's, `gatehouse oauth-provider client <id>
 * --enable-end-session true` runs on its database. Neither is traced.
 */
async function opEnableEndSession(t, owner, clientId) {
  if (t.side === "gatehouse") {
    await t.operator(["oauth-provider", "client", clientId, "--enable-end-session", "true"]);
    return true;
  }
  const res = await fetch(`${t.origin}/compat/enable-end-session`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: owner.jar.header() ?? "" },
    body: JSON.stringify({ client_id: clientId }),
  });
  if (!res.ok) throw new Error(`enable-end-session: ${res.status} ${await res.text()}`);
  return (await res.json()).enable_end_session;
}

scenario("oauth-provider/end-session", async (t) => {
  const { a: u, email } = await signedUp(t, "u");
  const rp = t.actor("rp", { noCookies: true });
  const c = await opClient(u, { post_logout_redirect_uris: [OP_LOGOUT] });
  await opEnableEndSession(t, u, c.client_id);
  // Another client of the same user, left as created (no enable_end_session).
  const plain = await opClient(u, { client_name: "Compat App 2", post_logout_redirect_uris: [OP_LOGOUT] });
  const idTokenOf = async (client) => (await opRedeem(rp, t, client, (await opCode(u, client.client_id)).code)).body?.id_token ?? null;
  const sessionId = async () => (await u.client.getSession()).data?.session?.id ?? null;
  const end = (q) => u.request("GET", `/oauth2/end-session?${new URLSearchParams(q)}`);
  // Where a logout sends the browser ({redirect, url} or a 302), unmasked: the state it carries.
  const endTo = async (q) => {
    const res = await u.fetch(`${t.base}/oauth2/end-session?${new URLSearchParams(q)}`, { method: "GET" });
    const url = (await res.json().catch(() => null))?.url ?? res.headers.get("location");
    return { status: res.status, page: opPage(url), state: opParam(url, "state") };
  };
  const signInAgain = async () => {
    await u.client.signOut();
    await u.client.signIn.email({ email, password: PW });
    return sessionId();
  };
  const first = await sessionId();
  const hint = await idTokenOf(c);
  const plainHint = await idTokenOf(plain);
  // Without a hint (the RP's logout form, posted), and with one that is no JWT.
  const noHint = await u.fetch(`${t.base}/oauth2/end-session`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: c.client_id, post_logout_redirect_uri: OP_LOGOUT, state: "lo-1" }).toString(),
  });
  const noHintBody = await noHint.json().catch(() => null);
  const afterNoHint = await sessionId();
  const garbage = await end({ id_token_hint: "not-an-id-token", post_logout_redirect_uri: OP_LOGOUT, state: "lo-1" });
  const afterGarbage = await sessionId();
  // The client's own hint, with a post-logout URI it did not register.
  const wrongUri = await end({ id_token_hint: hint ?? "none", post_logout_redirect_uri: "https://evil.example/logged-out", state: "lo-1" });
  const afterWrongUri = await sessionId();
  // The other client's hint.
  const notEnabled = await end({ id_token_hint: plainHint ?? "none" });
  const afterNotEnabled = await sessionId();
  // A new session; the first session's hint (same user, another sid).
  const second = await signInAgain();
  const stale = await end({ id_token_hint: hint ?? "none" });
  const afterStale = await sessionId();
  // A new session, its ID token, and the logout as an RP sends it.
  const third = await signInAgain();
  const hint3 = await idTokenOf(c);
  const ok = await endTo({ id_token_hint: hint3 ?? "none", client_id: c.client_id, post_logout_redirect_uri: OP_LOGOUT, state: "lo-1" });
  const afterOk = await sessionId();
  // The same hint again, signed out: with the post-logout URI, and without.
  const again = await endTo({ id_token_hint: hint3 ?? "none", post_logout_redirect_uri: OP_LOGOUT, state: "lo-2" });
  const bare = await end({ id_token_hint: hint3 ?? "none" });
  const sid = (tok) => (tok ? decodeJwt(tok).sid ?? null : null);
  // Whether the session is still the browser's after each call.
  const live = (before, after) => (before === null ? null : after === before);
  return {
    hintSidIsSession: sid(hint) === first,
    hint3SidIsSession: sid(hint3) === third,
    noHint: `${noHint.status} ${noHintBody?.error ?? ""}`.trim(),
    garbage: opErr(garbage),
    wrongUri: opErr(wrongUri),
    notEnabled: opErr(notEnabled),
    stale: opErr(stale),
    ok,
    again,
    bare: opErr(bare),
    live: {
      afterNoHint: live(first, afterNoHint),
      afterGarbage: live(first, afterGarbage),
      afterWrongUri: live(first, afterWrongUri),
      afterNotEnabled: live(first, afterNotEnabled),
      afterStale: live(second, afterStale),
      afterOk: live(third, afterOk),
    },
  };
});
