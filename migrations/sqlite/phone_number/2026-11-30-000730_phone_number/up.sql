-- phone-number plugin: Better Auth's `phoneNumber` (unique, E.164) and
-- `phoneNumberVerified` user columns, and the one-time codes. A code is
-- kept as an HMAC under the server secret, never in clear; `identifier` is
-- a hash of (purpose, number), one live code each; `attempts` counts the
-- guesses taken, raised by one conditional UPDATE per guess.
ALTER TABLE "user" ADD COLUMN "phoneNumber" TEXT;
ALTER TABLE "user" ADD COLUMN "phoneNumberVerified" INTEGER;
CREATE UNIQUE INDEX "user_phoneNumber_key" ON "user" ("phoneNumber");
CREATE TABLE "phoneNumberOtp" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "identifier" TEXT NOT NULL,
    "codeHash" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "expiresAt" TIMESTAMP NOT NULL,
    "createdAt" TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX "phoneNumberOtp_identifier_key" ON "phoneNumberOtp" ("identifier");
