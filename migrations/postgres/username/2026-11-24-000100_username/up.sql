-- username plugin: normalized (lower-cased) username plus the display form.
ALTER TABLE "user" ADD COLUMN "username" TEXT;
ALTER TABLE "user" ADD COLUMN "displayUsername" TEXT;
CREATE UNIQUE INDEX "user_username_key" ON "user" ("username");
