import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { registerUiRoutes, UI_SECURITY_HEADERS } from '../../../src/api/http/ui-routes.js';
import { tempDir } from '../../helpers/server.js';

describe('console static routes', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  const appFor = (dir: string) => {
    const app = Fastify();
    registerUiRoutes(app, dir);
    app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ __type: 'UnknownOperationException', message: 'no route' }));
    return app;
  };

  it('serves only the built files, with the security headers, index.html never cached', async () => {
    const dir = tempDir('keyward-ui-');
    dirs.push(dir);
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(dir, 'assets', 'app-1.js'), 'export {}');
    writeFileSync(join(dir, 'assets', 'notes.map'), 'not served: unknown type');
    const outside = join(dir, '..', `${dir.split('/').pop()}-secret.html`);
    writeFileSync(outside, 'outside');
    dirs.push(outside);
    const app = appFor(dir);

    const index = await app.inject({ method: 'GET', url: '/ui/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-store');
    for (const [k, v] of Object.entries(UI_SECURITY_HEADERS)) expect(index.headers[k]).toBe(v);
    expect(String(index.headers['content-security-policy'])).not.toMatch(/unsafe-(inline|eval)/);

    const js = await app.inject({ method: 'GET', url: '/ui/assets/app-1.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');

    for (const url of ['/ui/assets/notes.map', '/ui/../x', `/ui/..%2f${dir.split('/').pop()}-secret.html`, '/ui/%2e%2e/%2e%2e/etc/passwd', '/ui/assets/']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.json(), url).toMatchObject({ __type: 'UnknownOperationException' });
      expect(r.body, url).not.toContain('outside');
    }
    const bare = await app.inject({ method: 'GET', url: '/ui' });
    expect(bare.statusCode).toBe(200);
    expect(bare.body).toBe(index.body);
    await app.close();
  });

  it('says how to build the console when it was not built', async () => {
    const dir = tempDir('keyward-ui-empty-');
    dirs.push(dir);
    const app = appFor(dir);
    const r = await app.inject({ method: 'GET', url: '/ui/' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ __type: 'UnknownOperationException', message: expect.stringContaining('npm run build') });
    await app.close();
  });
});
