-- api-key plugin: Better Auth's `apikey` table (camelCase columns, text ids).
-- `referenceId` is a user id or an organization id (per configuration), so
-- it has no foreign key: a key whose owner is gone authenticates nothing.
CREATE TABLE "apikey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "configId" TEXT NOT NULL DEFAULT 'default',
    "name" TEXT,
    -- The first characters of the key (prefix included), for display.
    "start" TEXT,
    "referenceId" TEXT NOT NULL,
    "prefix" TEXT,
    -- SHA-256 of the full key, base64url without padding; never the key itself.
    "key" TEXT NOT NULL,
    -- Milliseconds.
    "refillInterval" BIGINT,
    "refillAmount" BIGINT,
    "lastRefillAt" TIMESTAMP,
    "enabled" BOOLEAN DEFAULT TRUE,
    "rateLimitEnabled" BOOLEAN DEFAULT TRUE,
    -- Milliseconds.
    "rateLimitTimeWindow" BIGINT DEFAULT 86400000,
    "rateLimitMax" BIGINT DEFAULT 10,
    "requestCount" BIGINT DEFAULT 0,
    "remaining" BIGINT,
    "lastRequest" TIMESTAMP,
    "expiresAt" TIMESTAMP,
    "createdAt" TIMESTAMP NOT NULL,
    "updatedAt" TIMESTAMP NOT NULL,
    -- JSON text: {resource: [actions]}.
    "permissions" TEXT,
    -- JSON text; returned parsed.
    "metadata" TEXT
);
CREATE UNIQUE INDEX "apikey_key_key" ON "apikey" ("key");
CREATE INDEX "apikey_referenceId_idx" ON "apikey" ("referenceId");
CREATE INDEX "apikey_configId_idx" ON "apikey" ("configId");
CREATE INDEX "apikey_expiresAt_idx" ON "apikey" ("expiresAt");
