# The engine variants llm-d-inference-sim cannot play (vLLM data parallel,
# 0.9 and V0 names, SGLang with either prefix, both prefill/decode kinds)
# and dcgm-exporter, as pods of the real node: the dashboard test's
# composed pages (test/integration/dashboard_targets.py --pod), one target
# a pod, on Debian's python3. The pod's container args are the engine's own
# command line, which the controller reads as it reads a real engine's;
# the page served is chosen by the DASHBOARD_TARGET environment variable.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY dashboard_targets.py /usr/local/bin/dashboard_targets.py
USER 65532:65532
ENTRYPOINT ["python3", "/usr/local/bin/dashboard_targets.py", "--pod"]
