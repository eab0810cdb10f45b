-- two-factor plugin: Better Auth's `twoFactorEnabled` user column and
-- `twoFactor` table. `secret` and `backupCodes` are encrypted at rest.
-- `lastUsedStep` (Gatehouse) is the newest TOTP time step accepted, so a
-- code cannot be used twice.
ALTER TABLE "user" ADD COLUMN "twoFactorEnabled" INTEGER DEFAULT 0;
CREATE TABLE "twoFactor" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "secret" TEXT NOT NULL,
    "backupCodes" TEXT NOT NULL,
    "userId" TEXT NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    "verified" INTEGER DEFAULT 1,
    "failedVerificationCount" INTEGER DEFAULT 0,
    "lockedUntil" TIMESTAMP,
    "lastUsedStep" BIGINT
);
CREATE UNIQUE INDEX "twoFactor_userId_key" ON "twoFactor" ("userId");
