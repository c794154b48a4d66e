/**
 * The deployables (issue 21, item 9). Docker cannot run here, so what can be checked is checked:
 * - the image's steps: `npm pack`, install the tarball into a clean prefix (the layout the
 *   Dockerfile copies into its runtime stage), then init and start it as a non-root user with its
 *   data directory as the only writable place, and run the image's HEALTHCHECK command against it;
 * - the compose file: parsed as YAML and checked against a strict schema of the Compose keys it
 *   uses, with every reference (services, volumes, secrets) resolved;
 * - the systemd unit: `systemd-analyze verify` (no warnings), with ExecStart pointed at the packed
 *   install, and the hardening the issue asks for.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tempDir } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);
/** An unprivileged user that exists on every Debian system. */
const NOBODY = 65534;

describe('the container image steps, run without Docker', () => {
  const work = tempDir('keyward-image-');
  chmodSync(work, 0o755);
  const children: Array<{ kill(): void; exitCode: number | null }> = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill();
    rmSync(work, { recursive: true, force: true });
  });

  it('the Dockerfile is multi-stage, runs as a non-root user, declares the data volume and a health check', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/keyward"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toContain('npm pack');
  });

  it('npm pack, installed into a clean prefix, starts as a non-root user and answers the HEALTHCHECK', async () => {
    expect(process.getuid?.()).toBe(0); // to switch to an unprivileged user, as the image does
    // the package as published (dist/ is built by `npm run build`, as in the Dockerfile's build stage)
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], { cwd: ROOT, maxBuffer: 16 << 20 });
    const tarball = join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    // `npm install --global --prefix /opt/keyward tarball`: the package in lib/node_modules, its bin in bin/
    const prefix = join(work, 'opt-keyward');
    const pkg = join(prefix, 'lib', 'node_modules', 'keyward');
    mkdirSync(pkg, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
    // dependencies: the registry is not reachable here, so the checkout's installed ones stand in
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(join('..', 'lib', 'node_modules', 'keyward', 'bin', 'keyward.js'), join(prefix, 'bin', 'keyward'));
    // nothing of the source tree leaked into the package, and what runs is there
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    expect(existsSync(join(pkg, 'test'))).toBe(false);
    expect(existsSync(join(pkg, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(readdirSync(join(pkg, 'proto'))).toContain('keyward');

    // the data volume: owned by the user, 0700; the rest of the prefix is read-only to it
    const data = join(work, 'var-lib-keyward');
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, NOBODY, NOBODY);
    const passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, 'a container passphrase of some length\n', { mode: 0o600 });
    chownSync(passphraseFile, NOBODY, NOBODY);
    const env = {
      PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`, HOME: data, NODE_ENV: 'production',
      KEYWARD_DATA_DIR: data, KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1',
    };
    const asUser = { uid: NOBODY, gid: NOBODY, env, cwd: data };
    const init = await run(join(prefix, 'bin', 'keyward'), ['init', '--passphrase-file', passphraseFile, '--json'], asUser);
    expect(JSON.parse(init.stdout)).toMatchObject({ tenant: 'default' });

    const server = spawn(join(prefix, 'bin', 'keyward'), ['server', '--passphrase-file', passphraseFile, '--listen', '127.0.0.1:0'], { ...asUser, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let out = '';
    server.stdout.on('data', (c: Buffer) => (out += c.toString()));
    server.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const url = await pollUntil(async () => /keyward listening on (http:\/\/\S+)/.exec(out)?.[1], (u) => u !== undefined || server.exitCode !== null, 'the packed server to listen', 60_000);
    expect(url, out).toBeDefined();
    expect((await run('ps', ['-o', 'user=', '-p', String(server.pid)])).stdout.trim()).toBe('nobody');

    // the image's HEALTHCHECK command, pointed at this listener
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])\s*$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd[0]).toBe('node');
    const health = await run(process.execPath, cmd.slice(1), { ...asUser, env: { ...env, KEYWARD_HEALTH_URL: url! } }).then(() => 0, (e: { code?: number }) => e.code ?? 1);
    expect(health).toBe(0);
    const res = await fetch(`${url!}/v1/sys/health`);
    expect(res.status).toBe(200);

    // a stopped server is unhealthy
    server.kill('SIGTERM');
    await pollUntil(async () => server.exitCode, (c) => c !== null, 'the server to stop', 30_000);
    const down = await run(process.execPath, cmd.slice(1), { ...asUser, env: { ...env, KEYWARD_HEALTH_URL: url! } }).then(() => 0, (e: { code?: number }) => e.code ?? 1);
    expect(down).not.toBe(0);
  }, 300_000);
});

describe('the compose file', () => {
  // the Compose keys this file uses, strictly: a typo or a misplaced key fails here
  const healthcheck = z.object({ test: z.array(z.string()).min(2), interval: z.string(), timeout: z.string(), retries: z.number().int() }).strict();
  const service = z.object({
    image: z.string(),
    build: z.object({ context: z.string(), dockerfile: z.string() }).strict().optional(),
    command: z.array(z.string()).optional(),
    hostname: z.string().optional(),
    environment: z.record(z.string(), z.string()).optional(),
    secrets: z.array(z.string()).optional(),
    volumes: z.array(z.string().regex(/^[\w-]+:\/[\w/.-]+$/)).optional(),
    ports: z.array(z.string().regex(/^127\.0\.0\.1:\d+:\d+$/, 'ports bind to loopback only')).optional(),
    depends_on: z.record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) }).strict()).optional(),
    healthcheck: healthcheck.optional(),
    read_only: z.boolean().optional(),
    tmpfs: z.array(z.string()).optional(),
    cap_drop: z.array(z.string()).optional(),
    security_opt: z.array(z.string()).optional(),
    ulimits: z.object({ core: z.number().int() }).strict().optional(),
    restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).optional(),
    stop_grace_period: z.string().regex(/^\d+(ms|s|m)$/).optional(),
  }).strict();
  const compose = z.object({
    name: z.string(),
    services: z.record(z.string(), service),
    volumes: z.record(z.string(), z.null()),
    secrets: z.record(z.string(), z.object({ file: z.string() }).strict()),
  }).strict();

  it('parses, fits the schema, and every reference resolves', () => {
    const raw = load(readFileSync(join(ROOT, 'deploy', 'compose.yaml'), 'utf8')) as Record<string, unknown>;
    // extension fields (x-*) hold the YAML anchors; merged into the services already
    const parsed = compose.parse(Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-'))));
    const names = Object.keys(parsed.services);
    expect(names).toEqual(['postgres', 'keyward-1', 'keyward-2']);
    for (const [name, s] of Object.entries(parsed.services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(names, `${name} depends on ${dep}`).toContain(dep);
      for (const secret of s.secrets ?? []) expect(Object.keys(parsed.secrets), `${name} uses secret ${secret}`).toContain(secret);
      for (const v of s.volumes ?? []) expect(Object.keys(parsed.volumes), `${name} mounts ${v}`).toContain(v.split(':')[0]);
    }
    // the two nodes: one database, their own node ids, data volumes and ports; no secret in the environment
    const [a, b] = [parsed.services['keyward-1']!, parsed.services['keyward-2']!];
    expect(a.environment?.KEYWARD_STORE).toMatch(/^postgres:\/\/keyward@postgres:5432\/keyward$/);
    expect(b.environment?.KEYWARD_STORE).toBe(a.environment?.KEYWARD_STORE);
    expect([a.environment?.KEYWARD_NODE_ID, b.environment?.KEYWARD_NODE_ID]).toEqual(['keyward-1', 'keyward-2']);
    expect(a.depends_on?.postgres?.condition).toBe('service_healthy');
    for (const s of [a, b]) {
      for (const k of Object.keys(s.environment ?? {})) expect(k).not.toMatch(/(PASSWORD|PASSPHRASE|TOKEN|SECRET|SECRET_ACCESS_KEY|PIN)$/);
      expect(s.command).toContain('--passphrase-file');
      expect(s.cap_drop).toEqual(['ALL']);
      expect(s.ulimits?.core).toBe(0);
    }
    expect(new Set([...(a.ports ?? []), ...(b.ports ?? [])].map((p) => p.split(':')[1])).size).toBe(4);
  });
});

describe('the systemd unit', () => {
  const unit = readFileSync(join(ROOT, 'deploy', 'keyward.service'), 'utf8');
  const work = tempDir('keyward-unit-');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is hardened as the issue asks', () => {
    for (const line of ['ProtectSystem=strict', 'NoNewPrivileges=yes', 'LimitCORE=0', 'User=keyward', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'ReadWritePaths=/var/lib/keyward']) {
      expect(unit.split('\n')).toContain(line);
    }
    // MemoryDenyWriteExecute stops V8's JIT: off, and the unit says why
    expect(unit).toMatch(/MemoryDenyWriteExecute=yes would stop Node/);
  });

  it('passes systemd-analyze verify without a warning', async () => {
    const copy = join(work, 'keyward.service');
    // ExecStart must name an executable that exists here: the checkout's bin stands in for /usr/bin/keyward
    writeFileSync(copy, unit.replace('ExecStart=/usr/bin/keyward ', `ExecStart=${join(ROOT, 'bin', 'keyward.js')} `));
    const r = await run('systemd-analyze', ['verify', copy]).then((x) => ({ code: 0, stderr: x.stderr }), (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? '' }));
    expect(r, r.stderr).toEqual({ code: 0, stderr: '' });
    // and it would catch a bad directive (the check can fail)
    writeFileSync(copy, unit.replace('ExecStart=/usr/bin/keyward ', `ExecStart=${join(ROOT, 'bin', 'keyward.js')} `).replace('ProtectSystem=strict', 'ProtectSystem=very'));
    const bad = await run('systemd-analyze', ['verify', copy]).then((x) => x.stderr, (e: { stderr?: string }) => e.stderr ?? '');
    expect(bad).toContain('Failed to parse protect system value');
  });
});
