# hsm-kms: the service compiled to JavaScript, with SoftHSMv2 for its embedded default.
#   docker build -t hsm-kms .
#   docker run --rm -p 127.0.0.1:8080:8080 -v hsm-kms-data:/data hsm-kms
# The token, the SQLite database, the audit trail and the generated administrator credential live in /data
# (a volume). A vendor's PKCS#11 library instead: mount it and set KMS_PKCS11_MODULE, KMS_PKCS11_TOKEN_LABEL
# and KMS_PKCS11_PIN_FILE (see the README's Docker section).

FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.sh ./scripts/build.sh
COPY hsm ./hsm
COPY src ./src
RUN bash scripts/build.sh dist && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM node:20-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends softhsm2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin kms \
 && mkdir -p /data && chown kms /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Configuration only through the documented environment variables. Plain HTTP beyond loopback is allowed
# here because a container's port is published to the host's loopback by default (see docker-compose.yml);
# anywhere else, set KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE.
ENV NODE_ENV=production KMS_DATA_DIR=/data KMS_HOST=0.0.0.0 KMS_PORT=8080 KMS_ALLOW_PLAINTEXT_HTTP=true
VOLUME /data
USER kms
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
