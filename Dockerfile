# scim-sidecar container image: the same `cargo build --release --locked` CI runs, copied into a
# distroless, non-root runtime. No shell, no package manager, no HEALTHCHECK: Kubernetes probes
# the admin port (/livez, /readyz). Read-only root filesystem friendly: the process writes no
# files (the demo's temporary directory is the one exception, unused in production).
#
#   docker build -t scim-sidecar:0.1.0 .
#   docker run --rm -p 8443:8443 -p 9090:9090 -v /path/to/config:/etc/scim-sidecar:ro scim-sidecar:0.1.0
#
# The builder's Rust version is pinned at or above Cargo.toml's rust-version (1.88).

FROM docker.io/library/rust:1.95.0-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY config ./config
COPY benches ./benches
RUN cargo build --release --locked --bin scim-sidecar \
 && install -D -m 0755 target/release/scim-sidecar /out/scim-sidecar

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/scim-sidecar /usr/local/bin/scim-sidecar
COPY config/sidecar.toml /etc/scim-sidecar/sidecar.example.toml
# distroless' "nonroot" user
USER 65532:65532
# SCIM (HTTPS by default) and admin (/livez, /readyz, /metrics)
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/scim-sidecar"]
CMD ["serve", "--config", "/etc/scim-sidecar/sidecar.toml"]
