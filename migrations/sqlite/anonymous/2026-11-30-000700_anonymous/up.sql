-- anonymous plugin: Better Auth's `isAnonymous` user column.
ALTER TABLE "user" ADD COLUMN "isAnonymous" INTEGER DEFAULT 0;
