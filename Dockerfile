# syntax=docker/dockerfile:1
#
# arbkeep headless in a container: the engine runs with its data dir on the
# /data volume (store, logs under /data/logs, control token), as the
# non-root user arbkeep (uid/gid 10001). Secrets come from the environment
# only (`docker run --env-file`), never from the image or the config file.
#
#   docker build -t arbkeep .
#   docker run -d --name arbkeep -v arbkeep-data:/data \
#       -v "$PWD/config.toml:/etc/arbkeep/config.toml:ro" --env-file ./arbkeep.env \
#       arbkeep --config /etc/arbkeep/config.toml
#   docker exec arbkeep arbkeep --data-dir /data status
#
# Without --config it runs paper mode (every venue simulated) on /data.

ARG RUST_VERSION=1.94

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
# The registry and target caches stay between builds (BuildKit); the binary
# is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin arbkeep \
    && cp target/release/arbkeep /usr/local/bin/arbkeep

FROM debian:bookworm-slim
# ca-certificates: the webhooks, Schwab, Stellar and RPC endpoints are TLS.
# Unpinned on purpose: the image takes bookworm's current security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 arbkeep \
    && useradd --system --uid 10001 --gid arbkeep --home-dir /data \
        --no-create-home --shell /usr/sbin/nologin arbkeep \
    && mkdir -p /data /etc/arbkeep \
    && chown arbkeep:arbkeep /data \
    && chmod 0700 /data
COPY --from=builder /usr/local/bin/arbkeep /usr/local/bin/arbkeep
COPY config.toml.example /usr/share/doc/arbkeep/config.toml.example
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# The control API listens on the container's loopback only: use it with
# `docker exec` (attach, pause, status, export …). Nothing is exposed.
STOPSIGNAL SIGTERM
# Healthy while an engine holds /data and its control API answers;
# `status --require-running` exits 1 when no engine runs.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["arbkeep", "--data-dir", "/data", "status", "--require-running"]
ENTRYPOINT ["arbkeep", "--headless", "--data-dir", "/data"]
