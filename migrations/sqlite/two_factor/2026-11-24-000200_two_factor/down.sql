DROP TABLE "twoFactor";
ALTER TABLE "user" DROP COLUMN "twoFactorEnabled";
