DROP INDEX IF EXISTS images_source_idx;
DROP INDEX IF EXISTS images_owner_sha256_idx;
ALTER TABLE images DROP COLUMN blurhash, DROP COLUMN source_id, DROP COLUMN sha256;
