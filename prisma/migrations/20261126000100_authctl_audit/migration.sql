-- authctl's audit log: one row per change authctl makes, written in the same
-- transaction as the change. The app never reads it.
CREATE TABLE "authctl_audit" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "at" DATETIME NOT NULL,
    "os_user" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "target" TEXT,
    "summary" TEXT NOT NULL,
    "details" TEXT
);
CREATE INDEX "idx_authctl_audit_at" ON "authctl_audit"("at");
