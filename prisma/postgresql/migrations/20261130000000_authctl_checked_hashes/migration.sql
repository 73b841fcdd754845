-- doctor's memory of password hashes already checked and found not weak: a
-- SHA-256 digest per hash (never the hash itself) and when it was checked. A
-- new password is a new hash, so it is checked again. The app never reads it.
CREATE TABLE "authctl_checked_hashes" (
    "digest" TEXT NOT NULL,
    "checked_at" TIMESTAMP(6) NOT NULL,
    CONSTRAINT "authctl_checked_hashes_pkey" PRIMARY KEY ("digest")
);
