# Builds the harrier binary, from which every role runs, and harrier-agent,
# the collector alone, for the nodes.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/harrier ./cmd/harrier && \
    CGO_ENABLED=0 go build -trimpath -o /out/harrier-agent ./cmd/harrier-agent

FROM debian:bookworm-slim
COPY --from=build /out/harrier /out/harrier-agent /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/harrier"]
