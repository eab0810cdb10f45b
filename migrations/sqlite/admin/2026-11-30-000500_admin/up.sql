-- admin plugin: Better Auth's `role`/`banned`/`banReason`/`banExpires` user
-- columns and `impersonatedBy` session column. `adminRole` (Gatehouse) holds
-- the roles created at runtime; `permission` is their statements as JSON.
-- `role` defaults to `user` for users created by any path ([admin] default_role
-- applies to sign-ups).
ALTER TABLE "user" ADD COLUMN "role" TEXT DEFAULT 'user';
ALTER TABLE "user" ADD COLUMN "banned" INTEGER DEFAULT 0;
ALTER TABLE "user" ADD COLUMN "banReason" TEXT;
ALTER TABLE "user" ADD COLUMN "banExpires" TIMESTAMP;
ALTER TABLE "session" ADD COLUMN "impersonatedBy" TEXT;
CREATE TABLE "adminRole" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "role" TEXT NOT NULL,
    "permission" TEXT NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "updatedAt" TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX "adminRole_role_key" ON "adminRole" ("role");
