# The Prometheus image the real node's prometheus-operator runs as its
# StatefulSet (spec.image of the tests' Prometheus objects): prometheus and
# promtool built from the Go module proxy (hack/tools/build.sh prometheus),
# laid out as the upstream image is, because the operator relies on it: the
# binary is the entrypoint (the operator passes only arguments), the data
# directory /prometheus, user nobody. hack/images.sh builds it with the two
# binaries as the context.
FROM debian:bookworm-slim
COPY prometheus promtool /bin/
RUN mkdir -p /prometheus /etc/prometheus && chown 65534:65534 /prometheus /etc/prometheus
USER 65534:65534
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
