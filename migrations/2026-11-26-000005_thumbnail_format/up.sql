-- Per-plan thumbnail format: the original's (JPEG in, JPEG out; PNG in, PNG
-- out) or WebP.
ALTER TABLE plans ADD COLUMN thumbnail_format text NOT NULL DEFAULT 'original'
    CHECK (thumbnail_format IN ('original', 'webp'));
