-- Formats (issue 13): originals of every accepted format, and the number
-- of frames of an animation (thumbnails show the first).
ALTER TABLE images
    DROP CONSTRAINT images_content_type_check,
    ADD CONSTRAINT images_content_type_check CHECK (content_type IN (
        'image/jpeg', 'image/png', 'image/webp', 'image/gif',
        'image/bmp', 'image/tiff', 'image/heic', 'image/avif')),
    ADD COLUMN frame_count integer NOT NULL DEFAULT 1 CHECK (frame_count >= 1);

ALTER TABLE upload_slots
    DROP CONSTRAINT upload_slots_content_type_check,
    ADD CONSTRAINT upload_slots_content_type_check CHECK (content_type IN (
        'image/jpeg', 'image/png', 'image/webp', 'image/gif',
        'image/bmp', 'image/tiff', 'image/heic', 'image/avif'));
