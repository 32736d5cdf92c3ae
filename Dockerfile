# image-vault container image.
#
#   docker build -t image-vault .
#   docker run --rm -p 8080:8080 -e JWT_SECRET=... -e DATABASE_URL=... image-vault          # serve
#   docker run --rm -e JWT_SECRET=... -e DATABASE_URL=... image-vault worker                  # workers only
#
# Works with BuildKit and with the legacy builder (no cache mounts, no `# syntax=` line).
# The crate is pure Rust plus `ring`, and libheif for HEIC/HEIF and AVIF (cargo
# feature `heif`), so the builder needs a C compiler and libheif-dev only:
# no libpq (diesel-async speaks the protocol through tokio-postgres), no OpenSSL
# (rustls with ring), no cmake/nasm (no aws-lc-sys, no turbojpeg).

ARG RUST_VERSION=1.95

############################ builder ############################
FROM rust:${RUST_VERSION}-slim-bookworm AS builder

WORKDIR /build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# libheif 1.15 headers for the `heif` feature (libheif-sys links -lheif).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libheif-dev \
 && rm -rf /var/lib/apt/lists/*

# 1. Dependencies only, cached as their own layer: this layer is rebuilt only
#    when Cargo.toml or Cargo.lock change. A throw-away main.rs and lib.rs
#    stand in for the crate (the real crate has both), then the crate's own
#    artifacts are removed so that step 2 rebuilds it from the real sources.
#    If Cargo.toml ever names a build script or targets with explicit paths,
#    stub them here too.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches/load \
 && echo 'fn main() {}' > src/main.rs \
 && : > src/lib.rs \
 && echo 'fn main() {}' > benches/thumbnail.rs \
 && echo 'fn main() {}' > benches/load/main.rs \
 && cargo build --release --locked --features heif --bin image-vault \
 && cargo clean --release --locked --package image-vault \
 && rm -rf src benches

# 2. The crate itself. Everything read at compile time must be copied here:
#    src/ and migrations/ (embedded by diesel_migrations::embed_migrations!),
#    and benches/, which Cargo.toml names as targets (not built here).
COPY src ./src
COPY migrations ./migrations
COPY benches ./benches
RUN cargo build --release --locked --features heif --bin image-vault \
 && install -D -m 0755 target/release/image-vault /out/image-vault

############################ runtime ############################
FROM debian:bookworm-slim AS runtime

# ca-certificates: TLS to a real S3 endpoint or a TLS Postgres.
# curl: used only by the compose healthcheck (GET /readyz).
# libheif1: HEIC/HEIF and AVIF input; it depends on its decoders (libde265-0,
# libdav1d6, libaom3) and libx265-199, which bookworm builds into it (the
# separate libheif-plugin-* packages start with libheif 1.16).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libheif1 \
 && rm -rf /var/lib/apt/lists/*

# Unprivileged user with a writable home, used for STORAGE=fs.
RUN groupadd --system --gid 10001 image-vault \
 && useradd --system --uid 10001 --gid image-vault \
      --home-dir /var/lib/image-vault --create-home --shell /usr/sbin/nologin image-vault \
 && install -d -o image-vault -g image-vault -m 0750 /var/lib/image-vault/storage

COPY --from=builder /out/image-vault /usr/local/bin/image-vault

ENV BIND=0.0.0.0:8080 \
    STORAGE_DIR=/var/lib/image-vault/storage \
    RUST_LOG=info

WORKDIR /var/lib/image-vault
USER 10001:10001
EXPOSE 8080

# No HEALTHCHECK here: the same image runs `worker`, which serves no HTTP.
# docker-compose.yml checks the `app` service with curl on /readyz.
# Exec form: the binary is PID 1 and receives SIGTERM itself (graceful shutdown).
ENTRYPOINT ["image-vault"]
CMD ["serve"]
