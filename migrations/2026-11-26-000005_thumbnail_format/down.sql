ALTER TABLE plans DROP COLUMN thumbnail_format;
