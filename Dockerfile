# One image for every Genonaut role; stack.yaml gives each container its command.
# PYTHON_IMAGE defaults to the official image; machines without a registry
# pass a stand-in built by scripts/offline-images.sh.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

# Everything that does not depend on the code comes first, so a code change
# rebuilds only the last two steps (each step is a container commit).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin genonaut
WORKDIR /app
EXPOSE 8001 8189
# Neutral default: prints the roles; each service's command comes from stack.yaml.
CMD ["python", "-m", "genonaut"]

# Dependencies in their own layer: code changes do not reinstall them. Where
# containers reach no package index, scripts/wheelhouse.sh fills wheelhouse/
# on the host first and the install uses only those wheels.
COPY requirements.txt wheelhouse* /tmp/deps/
RUN if ls /tmp/deps/*.whl >/dev/null 2>&1; then \
      python -m pip install --no-cache-dir --no-index --find-links /tmp/deps -r /tmp/deps/requirements.txt; \
    else \
      python -m pip install --no-cache-dir -r /tmp/deps/requirements.txt; \
    fi \
 && rm -rf /tmp/deps

# The package and its config (.dockerignore lets nothing else in: no env
# files, no tests, no secrets). Code stays owned by root, read-only to the app.
# It runs from /app, not from an installed copy in site-packages: the files
# under /app/genonaut are what every process imports (PYTHONPATH=/app, set
# above with the other variables so that it costs no step of its own), here
# and on ECS, so a file `geno up --watch` syncs there is what runs after a
# restart.
COPY . .
USER genonaut
