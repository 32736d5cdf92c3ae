-- Content-hash deduplication per user and blurhash placeholders.
--
-- `source_id` names the image whose objects this image uses: its own id,
-- or, when the same user uploaded the same bytes before, that image's id.
-- Objects are keyed by source_id and deleted only when no image refers to
-- them any more.
ALTER TABLE images
    ADD COLUMN sha256 bytea CHECK (length(sha256) = 32),
    ADD COLUMN source_id uuid,
    ADD COLUMN blurhash text CHECK (length(blurhash) BETWEEN 6 AND 100);
UPDATE images SET source_id = id;
ALTER TABLE images ALTER COLUMN source_id SET NOT NULL;
CREATE INDEX images_owner_sha256_idx ON images (owner_id, sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX images_source_idx ON images (source_id);
