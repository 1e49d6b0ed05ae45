# prometheus-config-reloader, the sidecar (and init container) of the
# Prometheus pods prometheus-operator makes, built from the same operator
# module (hack/tools/build.sh operator). The operator starts it by the path
# /bin/prometheus-config-reloader, as in the upstream image. hack/images.sh
# builds it with the binary as the context.
FROM debian:bookworm-slim
COPY prometheus-config-reloader /bin/prometheus-config-reloader
USER 65534:65534
ENTRYPOINT ["/bin/prometheus-config-reloader"]
