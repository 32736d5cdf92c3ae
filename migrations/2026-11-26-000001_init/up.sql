-- Plans, users, images, thumbnails, expiring links and the job queue.
-- The database guards its own invariants: every rule the code relies on has a
-- constraint behind it.

CREATE FUNCTION valid_thumbnail_heights(h int4[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT cardinality(h) <= 10
     AND (cardinality(h) = 0 OR array_ndims(h) = 1)
     AND NOT EXISTS (SELECT 1 FROM unnest(h) AS x WHERE x IS NULL OR x < 16 OR x > 4096)
     AND (SELECT count(DISTINCT x) FROM unnest(h) AS x) = cardinality(h)
$$;

CREATE TABLE plans (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name = btrim(name)),
    thumbnail_heights int4[] NOT NULL CHECK (valid_thumbnail_heights(thumbnail_heights)),
    original_link     boolean NOT NULL DEFAULT false,
    expiring_links    boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX plans_name_key ON plans (lower(name));

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_.@-]{0,63}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    is_admin      boolean NOT NULL DEFAULT false,
    plan_id       uuid REFERENCES plans (id) ON DELETE RESTRICT,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_plan_id_idx ON users (plan_id);
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

CREATE TABLE images (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    width        int4 NOT NULL CHECK (width > 0),
    height       int4 NOT NULL CHECK (height > 0),
    byte_size    int8 NOT NULL CHECK (byte_size > 0),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz CHECK (expires_at > created_at)
);
-- Keyset pagination: own images, newest first.
CREATE INDEX images_owner_created_idx ON images (owner_id, created_at DESC, id DESC);
-- The sweeper finds expired images without a scan.
CREATE INDEX images_expires_idx ON images (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE thumbnails (
    image_id     uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    height       int4 NOT NULL CHECK (height BETWEEN 16 AND 4096),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    width        int4 CHECK (width > 0),
    pixel_height int4 CHECK (pixel_height > 0 AND pixel_height <= height),
    byte_size    int8 CHECK (byte_size > 0),
    content_type text CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (image_id, height),
    CHECK (status <> 'ready' OR (width IS NOT NULL AND pixel_height IS NOT NULL
                                 AND byte_size IS NOT NULL AND content_type IS NOT NULL)),
    CHECK (status <> 'failed' OR error IS NOT NULL)
);

CREATE TABLE expiring_links (
    id         uuid PRIMARY KEY,
    image_id   uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token      text NOT NULL UNIQUE CHECK (length(token) >= 22),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    revoked_at timestamptz
);
CREATE INDEX expiring_links_owner_created_idx ON expiring_links (owner_id, created_at DESC, id DESC);
CREATE INDEX expiring_links_image_created_idx ON expiring_links (image_id, created_at DESC, id DESC);
CREATE INDEX expiring_links_expires_idx ON expiring_links (expires_at);

-- Durable job queue. Finished jobs are deleted; failed ones are kept for
-- inspection. Workers claim with FOR UPDATE SKIP LOCKED and hold a lease.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'failed')),
    attempts     int4 NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts int4 NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    locked_by    text,
    last_error   text,
    dedupe_key   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'running' OR locked_until IS NOT NULL)
);
CREATE INDEX jobs_queued_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running_idx ON jobs (locked_until) WHERE status = 'running';
-- At most one waiting job per dedupe key (sweeper, backfills, thumbnails).
-- A running job does not count: it may have read state that changed since.
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status = 'queued';

-- Wake idle workers when a job is enqueued (delivered at commit).
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('image_vault_jobs', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();

-- The three default plans.
INSERT INTO plans (id, name, thumbnail_heights, original_link, expiring_links) VALUES
    ('01900000-0000-7000-8000-000000000001', 'Basic',      '{200}',     false, false),
    ('01900000-0000-7000-8000-000000000002', 'Premium',    '{200,400}', true,  false),
    ('01900000-0000-7000-8000-000000000003', 'Enterprise', '{200,400}', true,  true)
ON CONFLICT DO NOTHING;
