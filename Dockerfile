# Gatehouse as one static binary in an empty image, run as a non-root user.
#
#   docker build -t gatehouse .
#   docker run -p 3000:3000 -e GATEHOUSE_SECRET=... -e DATABASE_URL=postgres://... gatehouse
#
# deploy/compose.yaml runs two instances behind a load balancer on
# PostgreSQL and Redis, as the multi-instance test in CI does.

# Build: Alpine's Rust targets musl, so the binary is static (SQLite is
# bundled; TLS is rustls with ring: no OpenSSL, no libc at run time).
FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p gatehouse-server --bin gatehouse \
 && mkdir -p /out/data \
 && cp target/release/gatehouse /out/gatehouse

# Run: nothing but the binary, CA roots (outgoing TLS: identity providers,
# SMTP, webhooks) and a writable /data for a SQLite database.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/gatehouse /gatehouse
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV GATEHOUSE_LISTEN=0.0.0.0:3000 \
    GATEHOUSE_ENV=production \
    DATABASE_URL=sqlite:///data/gatehouse.db
EXPOSE 3000
# SIGTERM drains the requests in flight, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
