// Compiled by CI against the packed package: the declared API type-checks, and
// plugin namespaces exist in the types only for registered plugins.
import { createAuthClient, twoFactorClient, usernameClient } from "@gatehouse/client";
async function main() {
  const auth = createAuthClient({ baseURL: "http://127.0.0.1:3000", plugins: [usernameClient()] });
  const r = await auth.signIn.username({ username: "alice", password: "pw" });
  if (r.error) { const code: string = r.error.code; console.log(code, r.error.status); }
  else if ("twoFactorRedirect" in r.data) { const methods: string[] = r.data.twoFactorMethods; console.log(methods); }
  else { const email: string = r.data.user.email; console.log(email); }
  const plain = createAuthClient({ baseURL: "http://127.0.0.1:3000" });
  // @ts-expect-error: no username namespace without the plugin
  plain.signIn.username;
  const s = await plain.getSession();
  if (s.data) { const t: string = s.data.session.token; console.log(t); }
}
main();
async function more() {
  const auth = createAuthClient({ baseURL: "x", plugins: [usernameClient()] });
  await auth.signOut();
  const a = await auth.isUsernameAvailable({ username: "x" });
  if (a.data) { const b: boolean = a.data.available; console.log(b); }
}
more();
async function twoFactor() {
  const auth = createAuthClient({ baseURL: "x", plugins: [twoFactorClient({ onTwoFactorRedirect: () => {} })] });
  const v = await auth.twoFactor.verifyTotp({ code: "123456", trustDevice: true });
  if (v.data) { const token: string | null | undefined = v.data.token; console.log(token); }
  // @ts-expect-error: no passkey namespace without passkeyClient()
  auth.passkey;
}
twoFactor();
