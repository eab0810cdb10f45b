-- The audit trail of privileged writes (admin and organization actions):
-- who did what, to whom, when and from where. Append-only.
CREATE TABLE "auditLog" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "actorId" TEXT,
    "action" TEXT NOT NULL,
    "targetType" TEXT NOT NULL,
    "targetId" TEXT NOT NULL,
    "organizationId" TEXT,
    "ipAddress" TEXT,
    "userAgent" TEXT,
    "details" TEXT NOT NULL,
    "createdAt" TIMESTAMP NOT NULL
);
CREATE INDEX "auditLog_createdAt_idx" ON "auditLog" ("createdAt");
CREATE INDEX "auditLog_actorId_idx" ON "auditLog" ("actorId");
CREATE INDEX "auditLog_targetId_idx" ON "auditLog" ("targetId");
CREATE INDEX "auditLog_organizationId_idx" ON "auditLog" ("organizationId");
