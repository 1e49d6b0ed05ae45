# The engine image of the real-node tests and the demo: llm-d-inference-sim
# (built from the Go module proxy by hack/tools/build.sh sim) on Debian
# bookworm-slim. hack/images.sh builds it with the binary as the context:
#   buildah bud -f hack/images/engine.Dockerfile <dir holding llm-d-inference-sim>
FROM debian:bookworm-slim
COPY llm-d-inference-sim /usr/local/bin/llm-d-inference-sim
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/llm-d-inference-sim"]
