DROP TABLE "apikey";
