-- Accounts an operator can run: disabled users, revocable sessions, API
-- tokens, login throttling shared by every server, and an audit trail.

-- A disabled user cannot log in; their sessions and tokens are revoked.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- One row per login. The access token (JWT) names its session (`sid`); a
-- request is authorised only while the session is live and its user enabled.
CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL CHECK (expires_at > created_at),
    revoked_at     timestamptz,
    client_address text CHECK (length(client_address) <= 64),
    user_agent     text CHECK (length(user_agent) <= 512)
);
CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC, id DESC);
-- Old sessions are swept without a scan.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Personal access tokens for scripts. Only the SHA-256 of the secret is
-- stored; `prefix` (the first characters of the secret) lets a person tell
-- tokens apart.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name = btrim(name)),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix       text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz CHECK (expires_at > created_at),
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_created_idx ON api_tokens (user_id, created_at DESC, id DESC);

-- Login attempts per username (`user:{name}`) and per client network
-- (`net:{address or /64}`), shared by every server. `login_reserve` counts
-- an attempt before the password is hashed.
CREATE TABLE login_throttle (
    key           text PRIMARY KEY CHECK (length(key) <= 300),
    window_start  timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,
    attempts      int4 NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    blocked_until timestamptz
);
CREATE INDEX login_throttle_last_idx ON login_throttle (last_at);

-- Reserves one login attempt for `p_key` at `p_now`, atomically (the row is
-- locked, so concurrent attempts queue here and each sees the others).
-- Returns NULL when the attempt may go ahead, else when to try again.
--
-- `p_growing` (usernames): after `p_limit` attempts each further one waits
-- twice as long as the one before, from `p_base` up to `p_max`; the count
-- starts over after a quiet `p_window`. Otherwise (networks): at most
-- `p_limit` attempts per fixed `p_window`.
CREATE FUNCTION login_reserve(
    p_key text, p_now timestamptz, p_window interval, p_limit int4,
    p_growing boolean, p_base interval, p_max interval
) RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    r login_throttle%ROWTYPE;
BEGIN
    INSERT INTO login_throttle (key, window_start, last_at, attempts)
        VALUES (p_key, p_now, p_now, 0)
        ON CONFLICT (key) DO NOTHING;
    SELECT * INTO r FROM login_throttle WHERE key = p_key FOR UPDATE;
    IF r.blocked_until IS NOT NULL AND r.blocked_until > p_now THEN
        RETURN r.blocked_until;
    END IF;
    IF (p_growing AND r.last_at + p_window <= p_now)
       OR (NOT p_growing AND r.window_start + p_window <= p_now) THEN
        r.window_start := p_now;
        r.attempts := 0;
        r.blocked_until := NULL;
    END IF;
    r.attempts := r.attempts + 1;
    IF r.attempts >= p_limit THEN
        IF p_growing THEN
            r.blocked_until := p_now + least(p_max, p_base * power(2, least(r.attempts - p_limit, 30)));
        ELSE
            r.blocked_until := r.window_start + p_window;
        END IF;
    END IF;
    UPDATE login_throttle
       SET window_start = r.window_start, last_at = p_now,
           attempts = r.attempts, blocked_until = r.blocked_until
     WHERE key = p_key;
    RETURN NULL;
END
$$;

-- Who changed what, when: every administrative change, with the values
-- before and after (never a secret).
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_name  text NOT NULL CHECK (length(actor_name) BETWEEN 1 AND 64),
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    target_type text NOT NULL CHECK (length(target_type) BETWEEN 1 AND 32),
    target_id   uuid,
    target_name text CHECK (length(target_name) <= 128),
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id);
