# The standard build, for machines that can pull base images: docker build -t switchyard .
# Offline (no registry), scripts/docker-image builds an equivalent image from a host build.
# A deployer image (ndeploy needs git, and npm for its default install):
#   docker build --target deployer -t switchyard-deployer .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin switchyard

FROM debian:bookworm-slim AS deployer
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates openssh-client npm \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/switchyard /usr/local/bin/switchyard
USER 65534:65534
ENV IP=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchyard"]

# The default image: the last stage.
FROM debian:bookworm-slim
COPY --from=build /src/target/release/switchyard /usr/local/bin/switchyard
# The system's root certificates, which rediss:// URLs are checked against (REDIS_CA_FILE
# replaces them): the build stage's bundle, the same Debian release's ca-certificates.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
USER 65534:65534
ENV IP=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchyard"]
