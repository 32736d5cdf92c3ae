#!/bin/sh
# Bootstraps MinIO for image-vault; run once by the `minio-init` service of
# docker-compose.yml (image minio/mc). Idempotent: safe on every `up`.
#
# - waits until MinIO answers with the given credentials;
# - creates the bucket if it does not exist;
# - keeps it private: no anonymous access, clients get presigned URLs only.
#
# Incomplete multipart uploads: MinIO refuses an AbortIncompleteMultipartUpload
# lifecycle rule, and needs none: it deletes stale uploads itself
# (`api stale_uploads_expiry`, 24h by default, set explicitly in compose).
set -eu

MINIO_ENDPOINT="${MINIO_ENDPOINT:-http://minio:9000}"
MINIO_ROOT_USER="${MINIO_ROOT_USER:?MINIO_ROOT_USER is required}"
MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is required}"
S3_BUCKET="${S3_BUCKET:-image-vault}"
WAIT_SECONDS="${WAIT_SECONDS:-60}"
ALIAS=vault

log() { printf 'minio-init: %s\n' "$*"; }

log "waiting for $MINIO_ENDPOINT (up to ${WAIT_SECONDS}s)"
waited=0
until mc alias set "$ALIAS" "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1 \
  && mc ls "$ALIAS" >/dev/null 2>&1; do
  if [ "$waited" -ge "$WAIT_SECONDS" ]; then
    log "MinIO at $MINIO_ENDPOINT not reachable with the given credentials after ${WAIT_SECONDS}s" >&2
    # Show the real error once.
    mc alias set "$ALIAS" "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >&2 || true
    mc ls "$ALIAS" >&2 || true
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done

log "ensuring bucket $S3_BUCKET"
mc mb --ignore-existing "$ALIAS/$S3_BUCKET"

log "making bucket $S3_BUCKET private (presigned URLs only)"
mc anonymous set none "$ALIAS/$S3_BUCKET"
mc anonymous get "$ALIAS/$S3_BUCKET"

log "done"
