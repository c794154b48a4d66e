import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console's built assets (vite, `npm run build`), in `dist/ui/` of the package. This file
 * is three folders below the package root both as source (src/api/http) and built (dist/api/http).
 */
export const UI_ASSETS_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

/**
 * The console's headers: a CSP that allows only the console's own files and requests to this
 * origin (no inline script or style, no eval), no framing (CSP frame-ancestors and, for older
 * browsers, X-Frame-Options), no MIME sniffing, no referrer leaving the page.
 */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** Vite names assets by content hash: those can be cached for good; index.html never. */
  readonly immutable: boolean;
}

/**
 * Reads every built file once into memory (a few hundred KiB): a request can then only pick one
 * of a fixed set of names, so a path never reaches the file system and unauthenticated callers
 * cost no disk reads.
 */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) { walk(p); continue; }
      const type = TYPES[extname(name)];
      if (type === undefined) continue;
      const rel = relative(dir, p).split(sep).join('/');
      assets.set(rel, { type, body: readFileSync(p), immutable: rel.startsWith('assets/') });
    }
  };
  walk(dir);
  return assets;
}

/** Serves the console at /ui/ (hash routing: the pages are index.html plus its assets). */
export function registerUiRoutes(app: FastifyInstance, dir = UI_ASSETS_DIR): void {
  let assets: Map<string, Asset> | undefined;
  const send = (reply: FastifyReply, status: number, asset: Asset) => {
    for (const [k, v] of Object.entries(UI_SECURITY_HEADERS)) reply.header(k, v);
    return reply.code(status).header('content-type', asset.type)
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-store').send(asset.body);
  };
  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    assets ??= loadAssets(dir);
    if (assets.size === 0) {
      // AWS-shaped like every other refusal of this listener
      return reply.code(404).header('content-type', 'application/x-amz-json-1.1')
        .send(JSON.stringify({ __type: 'UnknownOperationException', message: 'The web console is not built: run `npm run build`.' }));
    }
    const path = (req.params as { '*'?: string })['*'] ?? '';
    const asset = assets.get(path === '' ? 'index.html' : path);
    // anything else is the listener's ordinary 404 (AWS-shaped JSON, audited as NoRoute)
    return asset === undefined ? reply.callNotFound() : send(reply, 200, asset);
  };
  // /ui itself answers the page too (its asset URLs are absolute), so no redirect is needed
  app.get('/ui', serve);
  app.get('/ui/*', serve);
}
