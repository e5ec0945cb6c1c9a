# bias node image: a static binary on distroless, run as non-root.
#   docker build --build-arg VERSION=v1.2.0 --build-arg COMMIT=$(git rev-parse HEAD) -t bias .
#   docker run -v bias-data:/data -p 8080:8080 -p 26656:26656 bias
# The API listens on 0.0.0.0:8080 inside the container: put a TLS proxy in
# front of it (docs/operations.md, Deployment).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/bias-iot/bias/internal/version.version=${VERSION} -X github.com/bias-iot/bias/internal/version.commit=${COMMIT}" \
      -o /out/bias ./cmd/bias \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bias /bias
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080 26656
ENTRYPOINT ["/bias"]
CMD ["node", "--home", "/data", "--http", "0.0.0.0:8080", "--p2p", "tcp://0.0.0.0:26656"]
