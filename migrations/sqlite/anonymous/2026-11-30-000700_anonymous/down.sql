ALTER TABLE "user" DROP COLUMN "isAnonymous";
