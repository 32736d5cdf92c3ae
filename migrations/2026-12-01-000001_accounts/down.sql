DROP TABLE IF EXISTS audit_log;
DROP FUNCTION IF EXISTS login_reserve(text, timestamptz, interval, int4, boolean, interval, interval);
DROP TABLE IF EXISTS login_throttle;
DROP TABLE IF EXISTS api_tokens;
DROP TABLE IF EXISTS sessions;
ALTER TABLE users DROP COLUMN IF EXISTS disabled_at;
