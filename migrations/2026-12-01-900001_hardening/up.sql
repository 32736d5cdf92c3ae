-- Hardening (issue 10): fair job scheduling between users, per-plan quotas.

-- Fair scheduling. A job that serves one user carries that user; its
-- fair_seq is one more than that user's last waiting job, and never less
-- than the queue's current virtual time (the lowest waiting fair_seq), so
-- that workers take users' jobs in turns: a user's backlog of thousands
-- does not hold up another user's first image.
ALTER TABLE jobs
    ADD COLUMN owner_id uuid,
    ADD COLUMN fair_seq int8 NOT NULL DEFAULT 0;
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (fair_seq, run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_owner_waiting_idx ON jobs (owner_id, fair_seq)
    WHERE owner_id IS NOT NULL AND status IN ('queued', 'running');

-- Quotas per plan; NULL is unlimited.
ALTER TABLE plans
    ADD COLUMN max_images int4 CHECK (max_images > 0),
    ADD COLUMN max_storage_bytes int8 CHECK (max_storage_bytes > 0),
    ADD COLUMN max_uploads_per_hour int4 CHECK (max_uploads_per_hour > 0);

-- Uploads per user and hour, counted in the upload's own transaction (a
-- deleted image still counts against the hour it was uploaded in).
CREATE TABLE upload_counts (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    uploads      int4 NOT NULL CHECK (uploads >= 0),
    PRIMARY KEY (user_id, window_start)
);
