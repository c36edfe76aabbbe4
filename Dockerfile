# mdegate: static binary on a distroless base, running as a non-root user.
# The base images are build args so a machine without a registry can substitute local ones.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION and COMMIT are what `mdegate version` and mdegate_build_info show:
#   docker build --build-arg VERSION=$(git describe) --build-arg COMMIT=$(git rev-parse HEAD)
# (.git is not in the build context, so the toolchain cannot record the commit itself.)
ARG VERSION=dev
ARG COMMIT=
# Static (no cgo, so no libc in the final image), reproducible paths, stripped.
# cmd/mdegate/image_test.go builds the binary the same way and runs it as the final stage does.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/mdegate ./cmd/mdegate

FROM ${RUNTIME_IMAGE}
# The runtime base brings the CA roots (/etc/ssl/certs) and nothing else: no shell.
COPY --from=build /out/mdegate /usr/local/bin/mdegate
# The gateway writes nothing to disk: tokens live in memory, the config, the secret and any
# federated token are mounted read-only, so the root filesystem can be read-only
# (docker run --read-only, Kubernetes readOnlyRootFilesystem). It needs no HOME either.
# Only tls.acme writes, to tls.acme.storage: mount a writable volume there. A container
# listening on 0.0.0.0 needs a clients section (or allow_anonymous: true) to start.
# The working directory is the config's: `mdegate healthcheck` (and any other command) finds
# mdegate.yaml there by default, and relative paths in it are relative to it.
WORKDIR /etc/mdegate
USER 65532:65532
EXPOSE 8080
# Exec form, no shell: it GETs /healthz on the configured listener.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/mdegate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mdegate"]
CMD ["serve", "-config", "/etc/mdegate/mdegate.yaml"]
