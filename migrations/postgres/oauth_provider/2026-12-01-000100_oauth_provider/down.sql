DROP TABLE "oauthConsent";
DROP TABLE "oauthAccessToken";
DROP TABLE "oauthRefreshToken";
DROP TABLE "oauthClient";
