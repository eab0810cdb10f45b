ALTER TABLE "session" DROP COLUMN "activeTeamId";
ALTER TABLE "session" DROP COLUMN "activeOrganizationId";
DROP TABLE "organizationRole";
DROP TABLE "teamMember";
DROP TABLE "team";
DROP TABLE "invitation";
DROP TABLE "member";
DROP TABLE "organization";
