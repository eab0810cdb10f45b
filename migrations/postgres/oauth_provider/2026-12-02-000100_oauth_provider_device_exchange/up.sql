-- oauth-provider, second part: device authorization (RFC 8628), client
-- authentication by signed assertion (private_key_jwt, RFC 7523) and
-- access tokens addressed to a resource (RFC 8707, RFC 9068) or exchanged
-- (RFC 8693).

-- A private_key_jwt client's public keys: inline (a JWK Set as JSON) or by URL.
ALTER TABLE "oauthClient" ADD COLUMN "jwks" TEXT;
ALTER TABLE "oauthClient" ADD COLUMN "jwksUri" TEXT;

-- The resource servers a token is addressed to (JSON array; none: opaque,
-- for this server's userinfo), and for an exchanged token the chain of
-- actors (RFC 8693 `act`, JSON).
ALTER TABLE "oauthAccessToken" ADD COLUMN "audience" TEXT;
ALTER TABLE "oauthAccessToken" ADD COLUMN "actor" TEXT;

-- The `jti` of every client assertion seen, until it expires: each is
-- accepted once (the unique index makes a replay fail atomically).
CREATE TABLE "oauthClientAssertion" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "clientId" TEXT NOT NULL REFERENCES "oauthClient" ("clientId") ON DELETE CASCADE,
    "jti" TEXT NOT NULL,
    "expiresAt" TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX "oauthClientAssertion_clientId_jti_key" ON "oauthClientAssertion" ("clientId", "jti");
CREATE INDEX "oauthClientAssertion_expiresAt_idx" ON "oauthClientAssertion" ("expiresAt");

-- A pending device authorization. Both codes are stored as SHA-256 (the
-- user code of its normalized form). `userId` is the signed-in user who
-- entered the user code: only that user may approve it.
CREATE TABLE "oauthDeviceCode" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "deviceCode" TEXT NOT NULL,
    "userCode" TEXT NOT NULL,
    "clientId" TEXT NOT NULL REFERENCES "oauthClient" ("clientId") ON DELETE CASCADE,
    "scopes" TEXT NOT NULL,
    -- pending, approved, denied, redeemed
    "status" TEXT NOT NULL,
    "userId" TEXT REFERENCES "user" ("id") ON DELETE CASCADE,
    "sessionId" TEXT REFERENCES "session" ("id") ON DELETE SET NULL,
    "authTime" TIMESTAMP,
    "pollInterval" INTEGER NOT NULL,
    "lastPolledAt" TIMESTAMP,
    "expiresAt" TIMESTAMP NOT NULL,
    "createdAt" TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX "oauthDeviceCode_deviceCode_key" ON "oauthDeviceCode" ("deviceCode");
CREATE UNIQUE INDEX "oauthDeviceCode_userCode_key" ON "oauthDeviceCode" ("userCode");
CREATE INDEX "oauthDeviceCode_clientId_idx" ON "oauthDeviceCode" ("clientId");
