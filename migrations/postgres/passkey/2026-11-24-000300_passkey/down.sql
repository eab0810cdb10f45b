DROP TABLE "passkey";
