# threadloom server image: `docker build -t threadloom .`, or `docker compose up` (see the README).

# Build: install the package and its server extras into a virtual environment.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install ".[server,postgres,redis,openai]"

# Run: the virtual environment alone, as an unprivileged user.
FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    THREADLOOM_HOST=0.0.0.0 \
    THREADLOOM_PORT=8000 \
    THREADLOOM_LOG_FORMAT=json \
    THREADLOOM_DATABASE_URL=sqlite:////data/threadloom.db
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin threadloom \
    && mkdir -p /app /data \
    && chown threadloom:threadloom /data
COPY --from=build /opt/venv /opt/venv
COPY entrypoint.sh /app/entrypoint.sh
RUN chmod 0755 /app/entrypoint.sh
WORKDIR /app
USER threadloom
VOLUME ["/data"]
EXPOSE 8000
# No curl in the slim image: Python asks /healthz (any failure exits non-zero).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('THREADLOOM_PORT', '8000') + '/healthz', timeout=4)"
ENTRYPOINT ["/app/entrypoint.sh"]
