-- The GPUStack UI app's schema on PostgreSQL, as its SQLAlchemy create_all
-- makes it. A database the app created itself is adopted by recording this
-- migration as applied without running it.
CREATE TABLE users (
  id SERIAL NOT NULL, username VARCHAR(255) NOT NULL, email VARCHAR(255),
  password_hash VARCHAR(255), full_name VARCHAR(255),
  is_admin BOOLEAN NOT NULL, is_active BOOLEAN NOT NULL,
  gpustack_user_id INTEGER, preferences TEXT,
  created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
  last_login TIMESTAMP WITHOUT TIME ZONE,
  PRIMARY KEY (id), UNIQUE (gpustack_user_id));
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX idx_email_active ON users (email, is_active);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE INDEX idx_username_active ON users (username, is_active);

CREATE TABLE user_sessions (
  id SERIAL NOT NULL, user_id INTEGER NOT NULL,
  session_token VARCHAR(255) NOT NULL, jti VARCHAR(255) NOT NULL,
  token_type VARCHAR(20) NOT NULL,
  expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
  last_accessed TIMESTAMP WITHOUT TIME ZONE NOT NULL, ip_address VARCHAR(45), user_agent TEXT,
  PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id));
CREATE UNIQUE INDEX ix_user_sessions_jti ON user_sessions (jti);
CREATE INDEX idx_user_expires ON user_sessions (user_id, expires_at);
CREATE UNIQUE INDEX ix_user_sessions_session_token ON user_sessions (session_token);
CREATE INDEX idx_user_token_type ON user_sessions (user_id, token_type);
CREATE INDEX idx_expires_at ON user_sessions (expires_at);
CREATE INDEX ix_user_sessions_expires_at ON user_sessions (expires_at);

CREATE TABLE user_preferences (
  id SERIAL NOT NULL, user_id INTEGER NOT NULL,
  preference_key VARCHAR(255) NOT NULL, preference_value TEXT,
  created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
  PRIMARY KEY (id), CONSTRAINT uq_user_preference UNIQUE (user_id, preference_key),
  FOREIGN KEY(user_id) REFERENCES users (id));
CREATE INDEX idx_user_preference_key ON user_preferences (user_id, preference_key);
