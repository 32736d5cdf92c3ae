-- Direct-to-storage uploads: a slot is a promise to accept one file of a
-- declared size and type under `uploads/{id}` until `expires_at`. The client
-- PUTs the bytes straight to storage; `completeUpload` turns them into an
-- image and sets `completed_at` in the same transaction that inserts it.
-- The sweeper deletes expired slots' staging objects, then their rows.
CREATE TABLE upload_slots (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    byte_size    int8 NOT NULL CHECK (byte_size > 0),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL CHECK (expires_at > created_at),
    completed_at timestamptz
);
-- The sweeper finds expired slots without a scan.
CREATE INDEX upload_slots_expires_idx ON upload_slots (expires_at);
-- Counting a user's open slots, and the cascade when a user is deleted.
CREATE INDEX upload_slots_owner_idx ON upload_slots (owner_id, expires_at);
