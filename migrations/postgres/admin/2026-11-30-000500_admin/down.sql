DROP TABLE "adminRole";
ALTER TABLE "session" DROP COLUMN "impersonatedBy";
ALTER TABLE "user" DROP COLUMN "banExpires";
ALTER TABLE "user" DROP COLUMN "banReason";
ALTER TABLE "user" DROP COLUMN "banned";
ALTER TABLE "user" DROP COLUMN "role";
