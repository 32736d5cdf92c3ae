-- Rows of the newer formats stay (NOT VALID keeps them); new ones are
-- refused again.
ALTER TABLE upload_slots
    DROP CONSTRAINT upload_slots_content_type_check,
    ADD CONSTRAINT upload_slots_content_type_check
        CHECK (content_type IN ('image/jpeg', 'image/png')) NOT VALID;

ALTER TABLE images
    DROP COLUMN frame_count,
    DROP CONSTRAINT images_content_type_check,
    ADD CONSTRAINT images_content_type_check
        CHECK (content_type IN ('image/jpeg', 'image/png')) NOT VALID;
