DROP TABLE upload_counts;
ALTER TABLE plans
    DROP COLUMN max_images,
    DROP COLUMN max_storage_bytes,
    DROP COLUMN max_uploads_per_hour;
DROP INDEX jobs_owner_waiting_idx;
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (run_at) WHERE status = 'queued';
ALTER TABLE jobs DROP COLUMN owner_id, DROP COLUMN fair_seq;
