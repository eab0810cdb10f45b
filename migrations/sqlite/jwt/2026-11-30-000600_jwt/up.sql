-- jwt plugin: Better Auth's `jwks` table. `publicKey` is the public JWK as
-- JSON; `privateKey` the private JWK, sealed with the server secret;
-- `expiresAt` is set when the key is rotated out (it stays in /jwks for the
-- grace period after it).
CREATE TABLE "jwks" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "publicKey" TEXT NOT NULL,
    "privateKey" TEXT NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "expiresAt" TIMESTAMP,
    "alg" TEXT,
    "crv" TEXT
);
