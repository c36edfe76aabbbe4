# mdegate: static binary on a distroless base, running as a non-root user.
# The base images are build args so a machine without a registry can substitute local ones.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mdegate ./cmd/mdegate

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/mdegate /usr/local/bin/mdegate
# The gateway writes nothing to disk: tokens live in memory, config is mounted read-only.
# Only tls.acme writes, to tls.acme.storage: mount a writable volume there. A container
# listening on 0.0.0.0 needs a clients section (or allow_anonymous: true) to start.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mdegate"]
CMD ["serve", "-config", "/etc/mdegate/mdegate.yaml"]
