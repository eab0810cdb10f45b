// Compiled by CI against the packed package: the declared API type-checks;
// plugin namespaces exist in the types only for registered plugins; factories
// carry Better Auth's names; error codes are a union; GET queries are typed.
import {
  createAuthClient,
  emailOTPClient,
  passkeyClient,
  twoFactorClient,
  usernameClient,
  type ErrorCode,
} from "@gatehouse/client";
async function main() {
  const auth = createAuthClient({ baseURL: "http://127.0.0.1:3000", plugins: [usernameClient()] });
  const r = await auth.signIn.username({ username: "alice", password: "pw" });
  if (r.error) {
    const code: ErrorCode = r.error.code;
    // @ts-expect-error: a code no server or client produces is not an ErrorCode
    const bogus: ErrorCode = "NOT_A_REAL_CODE";
    if (r.error.code === "INVALID_USERNAME_OR_PASSWORD") console.log(code, bogus, r.error.status);
  }
  else if ("twoFactorRedirect" in r.data) { const methods: string[] = r.data.twoFactorMethods; console.log(methods); }
  else { const email: string = r.data.user.email; console.log(email); }
  const plain = createAuthClient({ baseURL: "http://127.0.0.1:3000" });
  // @ts-expect-error: no username namespace without the plugin
  plain.signIn.username;
  const s = await plain.getSession({ query: { disableRefresh: "true" } });
  if (s.data) { const t: string = s.data.session.token; console.log(t); }
  // @ts-expect-error: get-session has no such query parameter
  await plain.getSession({ query: { notAParameter: "x" } });
}
main();
async function more() {
  const auth = createAuthClient({ baseURL: "x", plugins: [usernameClient(), emailOTPClient()] });
  await auth.signOut();
  const a = await auth.isUsernameAvailable({ username: "x" });
  if (a.data) { const b: boolean = a.data.available; console.log(b); }
  const sent = await auth.emailOtp.sendVerificationOtp({ email: "a@example.com", type: "sign-in" });
  if (sent.data) { const ok: boolean = sent.data.success; console.log(ok); }
}
more();
async function twoFactor() {
  const auth = createAuthClient({
    baseURL: "x",
    plugins: [twoFactorClient({ onTwoFactorRedirect: (c) => console.log(c.twoFactorMethods) }), passkeyClient()],
  });
  const v = await auth.twoFactor.verifyTotp({ code: "123456", trustDevice: true });
  if (v.data) { const token: string | null | undefined = v.data.token; console.log(token); }
  const o = await auth.passkey.generateRegisterOptions({ query: { name: "Laptop" } });
  console.log(o.error?.code);
  const noPasskey = createAuthClient({ baseURL: "x", plugins: [twoFactorClient()] });
  // @ts-expect-error: no passkey namespace without passkeyClient()
  noPasskey.passkey;
}
twoFactor();
