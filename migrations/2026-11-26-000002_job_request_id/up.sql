-- The request that enqueued a job, so its logs can be followed into the job.
ALTER TABLE jobs ADD COLUMN request_id text CHECK (length(request_id) <= 128);
