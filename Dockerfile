# syntax=docker/dockerfile:1
# sessionhub: the server on a small Python image (README "Container image").
#   docker build -t sessionhub .
#   docker run -p 8700:8700 -v sessionhub-data:/data \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined sessionhub
# The three --security-opt let bubblewrap (the sandbox around user code) make its
# namespaces inside the container; without them set SESSIONHUB_SANDBOX=none.

ARG PYTHON_VERSION=3.11

# -- build: the package and its server dependencies into a virtual environment --------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/sessionhub
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/sessionhub/bin/pip install "/src[server,otel]"

# -- run: the environment, bubblewrap, a user of its own --------------------------------
FROM python:${PYTHON_VERSION}-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 sessionhub \
    && useradd --system --uid 10001 --gid sessionhub --home-dir /data --shell /usr/sbin/nologin sessionhub \
    && mkdir -p /data \
    && chown sessionhub:sessionhub /data
COPY --from=build /opt/sessionhub /opt/sessionhub
ENV PATH=/opt/sessionhub/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SESSIONHUB_DATA_DIR=/data \
    SESSIONHUB_HOST=0.0.0.0 \
    SESSIONHUB_PORT=8700
VOLUME ["/data"]
EXPOSE 8700
USER 10001:10001
WORKDIR /data
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SESSIONHUB_PORT', '8700') + '/healthz', timeout=4)"]
ENTRYPOINT ["sessionhub"]
CMD ["serve"]
