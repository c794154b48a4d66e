# syntax=docker/dockerfile:1
# Keyward in a container: built in one stage (compilers for better-sqlite3 and pkcs11js), run in a
# slim one as an unprivileged user. The same steps run in test/integration/deploy/deployables.test.ts
# (npm pack, install into a clean prefix, start as a non-root user), since Docker cannot run there.

FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --ignore-scripts
COPY . .
# builds dist/ (prepare), then the package exactly as `npm publish` would ship it
RUN npm run build && npm pack --ignore-scripts \
 && npm install --global --prefix /opt/keyward --omit=dev ./keyward-*.tgz

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    KEYWARD_DATA_DIR=/var/lib/keyward \
    KEYWARD_LISTEN=0.0.0.0:9123 \
    KEYWARD_TLS_CERT=/run/secrets/keyward_tls_cert \
    KEYWARD_TLS_KEY=/run/secrets/keyward_tls_key \
    PATH=/opt/keyward/bin:$PATH
# a dedicated user without a shell or a home; the data directory is its only writable place
RUN groupadd --system --gid 10001 keyward \
 && useradd --system --uid 10001 --gid keyward --no-create-home --shell /usr/sbin/nologin keyward \
 && mkdir -p /var/lib/keyward && chown keyward:keyward /var/lib/keyward && chmod 0700 /var/lib/keyward
COPY --from=build /opt/keyward /opt/keyward
USER 10001:10001
VOLUME ["/var/lib/keyward"]
EXPOSE 9123 9124
# liveness, not readiness: a sealed or uninitialised node is up (it waits for an operator); a
# load balancer reads /v1/sys/health without parameters (200 only when unsealed)
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const u=new URL('/v1/sys/health?sealedcode=200&uninitcode=200',process.env.KEYWARD_HEALTH_URL||'https://127.0.0.1:9123');require(u.protocol==='https:'?'node:https':'node:http').get(u,{rejectUnauthorized:false,timeout:2500},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
ENTRYPOINT ["keyward"]
CMD ["server"]
