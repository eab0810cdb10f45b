DROP INDEX "user_username_key";
ALTER TABLE "user" DROP COLUMN "displayUsername";
ALTER TABLE "user" DROP COLUMN "username";
