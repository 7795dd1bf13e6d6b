# Builds the harrier binary; every role runs from this one image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/harrier ./cmd/harrier

FROM debian:bookworm-slim
COPY --from=build /out/harrier /usr/local/bin/harrier
ENTRYPOINT ["/usr/local/bin/harrier"]
