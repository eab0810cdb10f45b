-- Rate-limit counters shared by every instance on the database
-- (`[rate_limit] storage = "database"`): Better Auth's `rateLimit` table.
-- `key` is `<client address>|<path>`; `lastRequest` is the start of the
-- current window (Unix milliseconds), `count` the requests in it. One
-- upsert counts a request atomically; rows of past windows are swept.
CREATE TABLE "rateLimit" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "key" TEXT NOT NULL,
    "count" INTEGER NOT NULL,
    "lastRequest" BIGINT NOT NULL
);
CREATE UNIQUE INDEX "rateLimit_key_key" ON "rateLimit" ("key");
CREATE INDEX "rateLimit_lastRequest_idx" ON "rateLimit" ("lastRequest");
