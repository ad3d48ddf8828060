# MIRP server image: the REST API, signaling, media engine (a child process) and browser client.
# Media goes over UDP: run with host networking (docker run --network host ...) or publish a UDP
# range and give the server a TURN/STUN configuration (MIRP_ICE_SERVERS).
# Settings go in as environment variables (MIRP_PORT, MIRP_TLS_CERTFILE, ...), not as flags of
# `mirp serve`: the health check reads the same variables to find the server.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MIRP_DATA_DIR=/data MIRP_HOST=0.0.0.0 MIRP_PORT=8000

WORKDIR /app
# Dependencies first, at the exact versions the suite passes with (constraints.txt): this layer
# is rebuilt only when they change, not on every change to the sources.
COPY constraints.txt pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt
RUN pip install --no-cache-dir -c constraints.txt --upgrade pip setuptools \
 && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt

# Then mirp itself (web/ goes into the wheel as mirp/web: no MIRP_WEB_DIR needed).
COPY README.md LICENSE setup.py MANIFEST.in ./
COPY src ./src
COPY web ./web
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && rm -rf /app/build /app/src/*.egg-info \
 && useradd --system --home /data --create-home mirp \
 && install -d -o mirp -g mirp /media/mirp  # MIRP_MEDIA_DIR of a cluster: a volume mounted here

USER mirp
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["mirp", "health"]
CMD ["mirp", "serve"]
