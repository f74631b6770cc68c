# syntax=docker/dockerfile:1
# eolc-fhir as a slim image: `eolc-fhir serve` on 0.0.0.0:8080 as a non-root user.
# The database comes from EOLC_DATABASE_URL (default: SQLite in the /data volume), e.g.
#   docker run -e EOLC_DATABASE_URL=postgresql+asyncpg://user:pw@db/eolc -p 8080:8080 eolc-fhir

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
# Every compiled dependency (asyncpg, uvloop, httptools, orjson, pydantic-core) ships
# manylinux wheels for 3.11, so no compiler is needed.
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EOLC_HOST=0.0.0.0 \
    EOLC_PORT=8080 \
    EOLC_PROFILES_DIR=/app/profiles \
    EOLC_DATABASE_URL=sqlite+aiosqlite:////data/eolc.db
RUN groupadd --system --gid 10001 eolc \
    && useradd --system --uid 10001 --gid eolc --home-dir /data --no-create-home eolc \
    && mkdir -p /data \
    && chown eolc:eolc /data
COPY --from=build /opt/venv /opt/venv
# A non-editable install cannot find profiles/ next to the sources: point at this copy.
COPY profiles /app/profiles
USER eolc
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["eolc-fhir", "serve", "--host", "0.0.0.0", "--port", "8080"]
