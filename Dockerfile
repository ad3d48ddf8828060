# MIRP server image: the REST API, signaling, media engine (a child process) and browser client.
# Media goes over UDP: run with host networking (docker run --network host ...) or publish a UDP
# range and give the server a TURN/STUN configuration (MIRP_ICE_SERVERS).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MIRP_DATA_DIR=/data MIRP_HOST=0.0.0.0 MIRP_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY web ./web
RUN pip install --no-cache-dir . \
 && useradd --system --home /data --create-home mirp

# web/ is found beside the installed package's source tree: serve it from /app/web
ENV MIRP_WEB_DIR=/app/web
USER mirp
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz'); sys.exit(0)"
CMD ["mirp", "serve"]
