DROP TABLE "oauthDeviceCode";
DROP TABLE "oauthClientAssertion";
ALTER TABLE "oauthAccessToken" DROP COLUMN "actor";
ALTER TABLE "oauthAccessToken" DROP COLUMN "audience";
ALTER TABLE "oauthClient" DROP COLUMN "jwksUri";
ALTER TABLE "oauthClient" DROP COLUMN "jwks";
