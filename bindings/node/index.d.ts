// Better Auth-shaped API of @gatehouse/client. The route methods, the plugin
// factories, the wire types and the error codes are generated from the spec
// (generated/routes.d.ts, generated/plugins.d.ts, generated/types.d.ts).
import type { CoreRoutes, PluginRoutes } from "./generated/routes";
import type { ErrorCode } from "./generated/types";

export * from "./generated/types";
export * from "./generated/plugins";
export type { CoreRoutes, PluginRoutes } from "./generated/routes";

/** A failed call: the server's code (or a client one, e.g. `PLUGIN_NOT_ENABLED`), status and message. */
export interface AuthClientError {
  code: ErrorCode;
  status: number;
  message: string;
}

export type Result<T> = { data: T; error: null } | { data: null; error: AuthClientError };

export interface ClientPlugin<Id extends string = string> {
  id: Id;
}

/** The `bearer` plugin: sessions travel as `Authorization: Bearer`. */
export declare function bearerClient(): ClientPlugin<"bearer">;
/** The `generic-oauth` plugin: its providers use `signIn.social` and `linkSocial`. */
export declare function genericOAuthClient(): ClientPlugin<"generic-oauth">;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type RoutesOf<Id> = Id extends keyof PluginRoutes ? PluginRoutes[Id] : unknown;

/** The core routes plus those of each registered plugin, nothing else. */
export type AuthClient<P extends readonly ClientPlugin[]> = CoreRoutes &
  UnionToIntersection<RoutesOf<P[number]["id"]>> & {
    /** The stored session token (`token.signature`), or null. */
    sessionToken(): Promise<string | null>;
  };

export declare function createAuthClient<const P extends readonly ClientPlugin[] = []>(options: {
  baseURL: string;
  plugins?: P;
}): AuthClient<P>;
