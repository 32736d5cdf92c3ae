DROP TABLE IF EXISTS upload_slots;
