# syntax=docker/dockerfile:1
#
# Postdate container image.
#   docker build -t postdate .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://... -e QSTASH_TOKEN=... postdate
# State written relative to the working directory lands in /var/lib/postdate (owned by the
# unprivileged user postdate, uid/gid 10001): mount a volume there to keep it.

############################## build ##############################
FROM rust:1-bookworm AS build
WORKDIR /build
# Never let sqlx's compile-time macros try to reach a database during the image build.
ENV SQLX_OFFLINE=true

# 1. Dependencies only: compile the locked dependency graph against a dummy main.rs, so this
#    layer stays cached until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
# Every target Cargo.toml declares must exist, so the library and the benchmark get stubs too.
RUN mkdir -p src/bin/postdate-bench \
    && touch src/lib.rs \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > src/bin/postdate-bench/main.rs \
    && cargo build --release --locked --bin postdate \
    && rm -rf src

# 2. The real sources. Drop the dummy crate's build artefacts first: COPY keeps the files'
#    original mtimes, which can be older than the dummy build, and cargo would then reuse it.
COPY src ./src
COPY migrations ./migrations
# The console's script and style sheet and the /docs page's Redoc bundle, compiled into the binary.
COPY assets ./assets
RUN rm -rf target/release/.fingerprint/postdate-* \
           target/release/deps/postdate-* \
           target/release/deps/libpostdate-* \
           target/release/postdate \
           target/release/postdate.d \
    && cargo build --release --locked --bin postdate \
    && install -D -m 0755 target/release/postdate /out/postdate

############################## runtime ##############################
FROM debian:bookworm-slim AS runtime

# TLS roots for https destinations (the binary uses rustls; no OpenSSL needed).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 postdate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/postdate \
               --no-create-home --shell /usr/sbin/nologin postdate \
    && mkdir -p /var/lib/postdate \
    && chown 10001:10001 /var/lib/postdate \
    && chmod 0750 /var/lib/postdate

COPY --from=build /out/postdate /usr/local/bin/postdate

WORKDIR /var/lib/postdate
ENV POSTDATE_LISTEN=0.0.0.0:8080
EXPOSE 8080
# Numeric so that orchestrators (e.g. Kubernetes runAsNonRoot) can check it is not root;
# it is the user `postdate` created above.
USER 10001:10001
# Ready means the database answers, the dispatch loop runs and shutdown has not begun (GET /readyz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/postdate", "healthcheck"]
# `postdate serve`: DATABASE_URL and QSTASH_TOKEN come from the environment. Other subcommands:
#   docker run --entrypoint postdate IMAGE migrate
ENTRYPOINT ["/usr/local/bin/postdate", "serve"]
