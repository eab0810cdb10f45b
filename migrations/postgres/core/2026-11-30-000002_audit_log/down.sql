DROP TABLE "auditLog";
