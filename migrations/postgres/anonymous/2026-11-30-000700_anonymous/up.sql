-- anonymous plugin: Better Auth's `isAnonymous` user column.
ALTER TABLE "user" ADD COLUMN "isAnonymous" BOOLEAN DEFAULT FALSE;
