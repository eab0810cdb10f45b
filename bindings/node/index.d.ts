// Better Auth-shaped API of @gatehouse/client. Wire types come from the spec
// (generated/types.d.ts, written by `cargo codegen`).
import type {
  AccountDto,
  IsUsernameAvailableResponse,
  Session,
  SessionWithUser,
  SignInEmailBody,
  SignInResponse,
  SignInUsernameBody,
  SignUpEmailBody,
  StatusResponse,
  SuccessResponse,
  TokenUserResponse,
  UpdateUserBody,
} from "./generated/types";

export * from "./generated/types";

/** A failed call: the server's code (or `PLUGIN_NOT_ENABLED`), status and message. */
export interface AuthClientError {
  code: string;
  status: number;
  message: string;
}

export type Result<T> = { data: T; error: null } | { data: null; error: AuthClientError };

export interface ClientPlugin<Id extends string = string> {
  id: Id;
}

export declare function usernameClient(): ClientPlugin<"username">;
export declare function bearerClient(): ClientPlugin<"bearer">;

export interface BaseClient {
  signUp: { email(body: SignUpEmailBody): Promise<Result<TokenUserResponse>> };
  signIn: { email(body: SignInEmailBody): Promise<Result<SignInResponse>> };
  getSession(): Promise<Result<SessionWithUser | null>>;
  signOut(): Promise<Result<SuccessResponse>>;
  listSessions(): Promise<Result<Session[]>>;
  revokeSession(body: { token: string }): Promise<Result<StatusResponse>>;
  updateUser(body: UpdateUserBody): Promise<Result<StatusResponse>>;
  listAccounts(): Promise<Result<AccountDto[]>>;
  /** The stored session token (`token.signature`), or null. */
  sessionToken(): Promise<string | null>;
}

export interface UsernameNamespace {
  signIn: BaseClient["signIn"] & { username(body: SignInUsernameBody): Promise<Result<SignInResponse>> };
  isUsernameAvailable(body: { username: string }): Promise<Result<IsUsernameAvailableResponse>>;
}

type HasPlugin<P extends readonly ClientPlugin[], Id extends string> = Extract<P[number], ClientPlugin<Id>> extends never ? false : true;

export type AuthClient<P extends readonly ClientPlugin[]> = BaseClient & (HasPlugin<P, "username"> extends true ? UsernameNamespace : {});

export declare function createAuthClient<const P extends readonly ClientPlugin[] = []>(options: {
  baseURL: string;
  plugins?: P;
}): AuthClient<P>;
