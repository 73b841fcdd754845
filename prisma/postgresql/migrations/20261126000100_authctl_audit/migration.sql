-- authctl's audit log: one row per change authctl makes, written in the same
-- transaction as the change. The app never reads it.
CREATE TABLE "authctl_audit" (
    "id" SERIAL NOT NULL,
    "at" TIMESTAMP(6) NOT NULL,
    "os_user" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "target" TEXT,
    "summary" TEXT NOT NULL,
    "details" TEXT,
    CONSTRAINT "authctl_audit_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "idx_authctl_audit_at" ON "authctl_audit"("at");
