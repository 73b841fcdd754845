-- The app's JWTs are about 270 characters, longer than VARCHAR(255) allows,
-- so PostgreSQL rejects them. TEXT keeps the same values and index.
ALTER TABLE user_sessions ALTER COLUMN session_token TYPE TEXT;
