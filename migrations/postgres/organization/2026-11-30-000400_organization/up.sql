-- organization plugin: Better Auth's `organization`, `member`, `invitation`,
-- `team`, `teamMember` and `organizationRole` tables (camelCase columns, text
-- ids), and the session's active organization and team.
CREATE TABLE "organization" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "logo" TEXT,
    "createdAt" TIMESTAMP NOT NULL,
    -- JSON text; returned parsed.
    "metadata" TEXT
);
-- Settles concurrent creates with one slug: exactly one wins.
CREATE UNIQUE INDEX "organization_slug_key" ON "organization" ("slug");

CREATE TABLE "member" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "organizationId" TEXT NOT NULL REFERENCES "organization" ("id") ON DELETE CASCADE,
    "userId" TEXT NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    -- Comma-separated role names.
    "role" TEXT NOT NULL DEFAULT 'member',
    "createdAt" TIMESTAMP NOT NULL
);
CREATE INDEX "member_organizationId_idx" ON "member" ("organizationId");
CREATE INDEX "member_userId_idx" ON "member" ("userId");
-- One membership per user and organization, whatever races.
CREATE UNIQUE INDEX "member_organizationId_userId_key" ON "member" ("organizationId", "userId");

CREATE TABLE "invitation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "organizationId" TEXT NOT NULL REFERENCES "organization" ("id") ON DELETE CASCADE,
    "email" TEXT NOT NULL,
    "role" TEXT,
    -- Comma-separated team ids (teams enabled).
    "teamId" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "expiresAt" TIMESTAMP NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "inviterId" TEXT NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE
);
CREATE INDEX "invitation_organizationId_idx" ON "invitation" ("organizationId");
CREATE INDEX "invitation_email_idx" ON "invitation" ("email");

CREATE TABLE "team" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL REFERENCES "organization" ("id") ON DELETE CASCADE,
    "createdAt" TIMESTAMP NOT NULL,
    "updatedAt" TIMESTAMP,
    -- Seats taken; reserved with a conditional update (maximum per team).
    "memberCount" INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX "team_organizationId_idx" ON "team" ("organizationId");

CREATE TABLE "teamMember" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "teamId" TEXT NOT NULL REFERENCES "team" ("id") ON DELETE CASCADE,
    "userId" TEXT NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    -- base64url(SHA-256(JSON [teamId, userId])), Better Auth's uniqueness key.
    "membershipKey" TEXT,
    "createdAt" TIMESTAMP,
    -- Gatehouse: a team-scoped role (comma-separated), or none.
    "role" TEXT
);
CREATE INDEX "teamMember_teamId_idx" ON "teamMember" ("teamId");
CREATE INDEX "teamMember_userId_idx" ON "teamMember" ("userId");
CREATE UNIQUE INDEX "teamMember_membershipKey_key" ON "teamMember" ("membershipKey");

CREATE TABLE "organizationRole" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "organizationId" TEXT NOT NULL REFERENCES "organization" ("id") ON DELETE CASCADE,
    "role" TEXT NOT NULL,
    -- JSON {resource: [actions]}.
    "permission" TEXT NOT NULL,
    "createdAt" TIMESTAMP NOT NULL,
    "updatedAt" TIMESTAMP
);
CREATE INDEX "organizationRole_organizationId_idx" ON "organizationRole" ("organizationId");
CREATE INDEX "organizationRole_role_idx" ON "organizationRole" ("role");
CREATE UNIQUE INDEX "organizationRole_organizationId_role_key" ON "organizationRole" ("organizationId", "role");

ALTER TABLE "session" ADD COLUMN "activeOrganizationId" TEXT;
ALTER TABLE "session" ADD COLUMN "activeTeamId" TEXT;
