// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        token_hash -> Bytea,
        prefix -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        created_at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        actor_name -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Uuid>,
        target_name -> Nullable<Text>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
    }
}

diesel::table! {
    expiring_links (id) {
        id -> Uuid,
        image_id -> Uuid,
        owner_id -> Uuid,
        token -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    images (id) {
        id -> Uuid,
        owner_id -> Uuid,
        filename -> Text,
        content_type -> Text,
        width -> Int4,
        height -> Int4,
        byte_size -> Int8,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        sha256 -> Nullable<Bytea>,
        source_id -> Uuid,
        blurhash -> Nullable<Text>,
        frame_count -> Int4,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        kind -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamptz,
        request_id -> Nullable<Text>,
        owner_id -> Nullable<Uuid>,
        fair_seq -> Int8,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        window_start -> Timestamptz,
        last_at -> Timestamptz,
        attempts -> Int4,
        blocked_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    plans (id) {
        id -> Uuid,
        name -> Text,
        thumbnail_heights -> Array<Int4>,
        original_link -> Bool,
        expiring_links -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        thumbnail_format -> Text,
        max_images -> Nullable<Int4>,
        max_storage_bytes -> Nullable<Int8>,
        max_uploads_per_hour -> Nullable<Int4>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        client_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    thumbnails (image_id, height) {
        image_id -> Uuid,
        height -> Int4,
        status -> Text,
        width -> Nullable<Int4>,
        pixel_height -> Nullable<Int4>,
        byte_size -> Nullable<Int8>,
        content_type -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    upload_counts (user_id, window_start) {
        user_id -> Uuid,
        window_start -> Timestamptz,
        uploads -> Int4,
    }
}

diesel::table! {
    upload_slots (id) {
        id -> Uuid,
        owner_id -> Uuid,
        filename -> Text,
        byte_size -> Int8,
        content_type -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        username -> Text,
        password_hash -> Text,
        is_admin -> Bool,
        plan_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(expiring_links -> images (image_id));
diesel::joinable!(expiring_links -> users (owner_id));
diesel::joinable!(images -> users (owner_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(thumbnails -> images (image_id));
diesel::joinable!(upload_counts -> users (user_id));
diesel::joinable!(upload_slots -> users (owner_id));
diesel::joinable!(users -> plans (plan_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    audit_log,
    expiring_links,
    images,
    jobs,
    login_throttle,
    plans,
    sessions,
    thumbnails,
    upload_counts,
    upload_slots,
    users,
);
