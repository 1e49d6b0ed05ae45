# The infermon controller image (docs/deploy.md, "The image").
#
#   docker build -t infermon:latest --build-arg INFERMON_GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
#   podman build -t infermon:latest .
#
# Two stages on Debian bookworm, the release the project builds and tests
# on: a build stage with the -dev packages and cmake, and a bookworm-slim
# runtime with only the shared libraries the binary needs, running as
# 65532:65532. test/integration/it_deploy.sh builds the binary from only
# the files this build stage COPYs and keeps both package lists honest:
# BUILD_PACKAGES must hold hack/lib.sh's INFERMON_BUILD_DEBS (what the test
# suite builds with), and RUNTIME_PACKAGES must be exactly the Debian
# packages of the binary's NEEDED libraries (readelf -d, dpkg -S) plus
# ca-certificates.

FROM debian:bookworm AS build
ARG BUILD_PACKAGES="build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev libssl-dev libwebsockets-dev libuv1-dev zlib1g-dev"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${BUILD_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY lib/ lib/
COPY cmd/ cmd/
COPY test/ test/
# the dashboard is compiled into the binary
COPY dashboards/llm-inference.json dashboards/
ARG INFERMON_GIT_COMMIT=unknown
# Release (-O3), as hack/test.sh builds and tests it (stripped below)
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DINFERMON_INTEGRATION=OFF \
      -DINFERMON_GIT_COMMIT=${INFERMON_GIT_COMMIT} \
 && cmake --build /build --target infermon -j"$(nproc)" \
 && strip /build/infermon \
 && /build/infermon version

FROM debian:bookworm-slim
# One package per NEEDED library of /usr/local/bin/infermon (their own
# dependencies come with them), and the CA bundle for TLS to anything but
# the API server (whose CA is the service account's ca.crt):
#   libc6            libc.so.6 libm.so.6
#   libcjson1        libcjson.so.1
#   libcurl4         libcurl.so.4
#   libssl3          libcrypto.so.3 (libssl.so.3 comes through libcurl4)
#   libuv1           libuv.so.1
#   libwebsockets17  libwebsockets.so.17
#   libyaml-0-2      libyaml-0.so.2
#   zlib1g           libz.so.1
ARG RUNTIME_PACKAGES="libc6 libcjson1 libcurl4 libssl3 libuv1 libwebsockets17 libyaml-0-2 zlib1g ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/infermon /usr/local/bin/infermon
# the non-root user of distroless images; the Deployment sets it too
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/infermon"]
CMD ["run"]
