# CastCore image for the distributed mode (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CASTCORE_VAR_DIR=/var/lib/castcore
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg nodejs npm cifs-utils nfs-common \
    nginx-light libnginx-mod-rtmp \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt package.json package-lock.json ./
RUN pip install --no-cache-dir -r requirements.txt && npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN SECRET_KEY=build-only CASTCORE_FERNET_KEYS=$(python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())') \
    python manage.py collectstatic --noinput --verbosity 0

EXPOSE 8000
CMD ["python", "-m", "castcore.serve", "-b", "0.0.0.0", "-p", "8000", "castcore.asgi:application"]
