-- oauth-provider plugin: Better Auth's `oauthClient`, `oauthRefreshToken`,
-- `oauthAccessToken`, `oauthConsent` and `oauthClientAssertion` tables
-- (camelCase columns, text ids). Lists (`string[]` in Better Auth's schema)
-- are JSON arrays in text. Secrets and tokens are stored only as SHA-256,
-- base64url without padding. `authorizationCodeId` is the grant a token
-- descends from (the code's hash, or a fresh id for client credentials):
-- replaying a code or a spent refresh token revokes every token sharing it.
CREATE TABLE "oauthClient" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "clientId" TEXT NOT NULL,
    "clientSecret" TEXT,
    "disabled" BOOLEAN DEFAULT FALSE,
    "skipConsent" BOOLEAN,
    "enableEndSession" BOOLEAN,
    "scopes" TEXT,
    "clientCredentialsScopes" TEXT,
    -- The user who registered the client (none: registered without a session, or by the operator).
    "userId" TEXT REFERENCES "user" ("id") ON DELETE CASCADE,
    "createdAt" TIMESTAMP NOT NULL,
    "updatedAt" TIMESTAMP NOT NULL,
    "name" TEXT,
    "uri" TEXT,
    "icon" TEXT,
    "contacts" TEXT,
    "tos" TEXT,
    "policy" TEXT,
    "softwareId" TEXT,
    "softwareVersion" TEXT,
    "redirectUris" TEXT NOT NULL,
    "postLogoutRedirectUris" TEXT,
    "tokenEndpointAuthMethod" TEXT,
    "applicationType" TEXT,
    "grantTypes" TEXT,
    "responseTypes" TEXT,
    "requirePKCE" BOOLEAN,
    "metadata" TEXT
);
CREATE UNIQUE INDEX "oauthClient_clientId_key" ON "oauthClient" ("clientId");
CREATE INDEX "oauthClient_userId_idx" ON "oauthClient" ("userId");

CREATE TABLE "oauthRefreshToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "token" TEXT NOT NULL,
    "clientId" TEXT NOT NULL REFERENCES "oauthClient" ("clientId") ON DELETE CASCADE,
    "sessionId" TEXT REFERENCES "session" ("id") ON DELETE SET NULL,
    "userId" TEXT NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    "authorizationCodeId" TEXT,
    "expiresAt" TIMESTAMP NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "revoked" TIMESTAMP,
    "rotatedAt" TIMESTAMP,
    "authTime" TIMESTAMP,
    "scopes" TEXT NOT NULL
);
CREATE UNIQUE INDEX "oauthRefreshToken_token_key" ON "oauthRefreshToken" ("token");
CREATE INDEX "oauthRefreshToken_clientId_idx" ON "oauthRefreshToken" ("clientId");
CREATE INDEX "oauthRefreshToken_userId_idx" ON "oauthRefreshToken" ("userId");
CREATE INDEX "oauthRefreshToken_sessionId_idx" ON "oauthRefreshToken" ("sessionId");
CREATE INDEX "oauthRefreshToken_authorizationCodeId_idx" ON "oauthRefreshToken" ("authorizationCodeId");

CREATE TABLE "oauthAccessToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "token" TEXT NOT NULL,
    "clientId" TEXT NOT NULL REFERENCES "oauthClient" ("clientId") ON DELETE CASCADE,
    "sessionId" TEXT REFERENCES "session" ("id") ON DELETE SET NULL,
    -- None for client credentials: the client acts for itself.
    "userId" TEXT REFERENCES "user" ("id") ON DELETE CASCADE,
    "authorizationCodeId" TEXT,
    "refreshId" TEXT REFERENCES "oauthRefreshToken" ("id") ON DELETE CASCADE,
    "expiresAt" TIMESTAMP NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "revoked" TIMESTAMP,
    "scopes" TEXT NOT NULL
);
CREATE UNIQUE INDEX "oauthAccessToken_token_key" ON "oauthAccessToken" ("token");
CREATE INDEX "oauthAccessToken_clientId_idx" ON "oauthAccessToken" ("clientId");
CREATE INDEX "oauthAccessToken_userId_idx" ON "oauthAccessToken" ("userId");
CREATE INDEX "oauthAccessToken_authorizationCodeId_idx" ON "oauthAccessToken" ("authorizationCodeId");
CREATE INDEX "oauthAccessToken_refreshId_idx" ON "oauthAccessToken" ("refreshId");

CREATE TABLE "oauthConsent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "clientId" TEXT NOT NULL REFERENCES "oauthClient" ("clientId") ON DELETE CASCADE,
    "userId" TEXT REFERENCES "user" ("id") ON DELETE CASCADE,
    "scopes" TEXT NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "updatedAt" TIMESTAMP NOT NULL
);
CREATE INDEX "oauthConsent_clientId_idx" ON "oauthConsent" ("clientId");
CREATE INDEX "oauthConsent_userId_idx" ON "oauthConsent" ("userId");
