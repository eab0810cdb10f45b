DROP TABLE "phoneNumberOtp";
DROP INDEX "user_phoneNumber_key";
ALTER TABLE "user" DROP COLUMN "phoneNumberVerified";
ALTER TABLE "user" DROP COLUMN "phoneNumber";
