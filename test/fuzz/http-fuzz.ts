import { request, type Agent } from 'node:http';
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { ERROR_CODES, isErrorCode } from '../../src/errors/index.js';
import { targetsOf } from '../../src/operations/index.js';
import { callTarget } from '../helpers/keyward-api.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../helpers/server.js';

/**
 * HTTP API fuzzing against a real `keyward server` process: random and malformed methods, paths,
 * targets, headers, credentials and bodies (wrong JSON types, bad base64, huge and empty fields,
 * unicode, odd numbers). Every answer must be a 2xx or a clear 4xx AWS-shaped error; never a 5xx,
 * never a dropped connection, and the process must stay up.
 */

export interface FuzzTarget {
  readonly proc: KeywardProcess;
  readonly url: string;
  readonly pool: ValuePool;
  readonly bodyLimit: number;
  close(): Promise<void>;
}

/** Real values from the server the fuzzer mixes in, so some requests get past validation. */
export interface ValuePool {
  readonly tokens: string[];
  readonly keyIds: string[];
  readonly blobs: string[];
}

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface FuzzResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const BODY_LIMIT = 64 * 1024;

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const dataDir = tempDir('keyward-fuzz-');
  const env = {
    KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'fatal',
    KEYWARD_RATE_LIMIT_PER_SECOND: '0', KEYWARD_UNAUTHENTICATED_PER_SECOND: '0', KEYWARD_UNAUTHENTICATED_GLOBAL_PER_SECOND: '0', KEYWARD_BODY_LIMIT: String(BODY_LIMIT), KEYWARD_PASSPHRASE: TEST_PASSPHRASE,
  };
  const init = await keyward(['init', '--data-dir', dataDir, '--json'], env);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const root = { token: (JSON.parse(init.stdout) as { token: string }).token };
  const proc = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], env);
  const url = proc.url;
  // The fuzzer acts as an admin and a user of its own tenant: it cannot seal the server (a system
  // action), so every 503 it could see would be a real fault.
  await callTarget(url, 'Keyward.CreateTenant', { TenantId: 'fuzz' }, root);
  const admin = (await callTarget(url, 'Keyward.CreatePrincipal', { Name: 'fuzz-admin', Role: 'admin', Tenant: 'fuzz' }, root)).body.Credentials as { Token: string };
  const user = (await callTarget(url, 'Keyward.CreatePrincipal', { Name: 'fuzz-user', Role: 'user', Tenant: 'fuzz' }, root)).body.Credentials as { Token: string };
  const pool: ValuePool = { tokens: [admin.Token, user.Token], keyIds: [], blobs: [] };
  for (let i = 0; i < 2; i++) {
    const meta = (await callTarget(url, 'TrentService.CreateKey', {}, { token: admin.Token })).body.KeyMetadata as { KeyId: string; Arn: string };
    await callTarget(url, 'TrentService.CreateAlias', { AliasName: `alias/fuzz-${i}`, TargetKeyId: meta.KeyId }, { token: admin.Token });
    pool.keyIds.push(meta.KeyId, meta.Arn, `alias/fuzz-${i}`);
    const enc = await callTarget(url, 'TrentService.Encrypt', { KeyId: meta.KeyId, Plaintext: Buffer.from('fuzz').toString('base64') }, { token: user.Token });
    pool.blobs.push(enc.body.CiphertextBlob as string);
  }
  return {
    proc, url, pool, bodyLimit: BODY_LIMIT,
    async close() {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const FIELDS = [
  'KeyId', 'Plaintext', 'CiphertextBlob', 'EncryptionContext', 'NumberOfBytes', 'KeySpec', 'NumberOfBytes', 'Limit',
  'Marker', 'AliasName', 'TargetKeyId', 'Description', 'Tags', 'TagKeys', 'Version', 'GrantTokens', 'DryRun',
  'PendingWindowInDays', 'KeyUsage', 'KeySpec', 'Policy', 'Origin', 'RotationPeriodInDays', 'SourceKeyId',
  'DestinationKeyId', 'SourceEncryptionContext', 'DestinationEncryptionContext', 'EncryptionAlgorithm', 'Name', 'Role',
  'Tenant', 'TenantId', 'passphrase', 'MultiRegion', 'BypassPolicyLockoutSafetyCheck', '__proto__', 'constructor',
];

function valueArb(pool: ValuePool): fc.Arbitrary<unknown> {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('', ' ', '\u0000', '\ud800', 'alias/', 'alias/aws/x', 'arn:aws:kms:us-east-1:000000000000:key/x', '../../etc', '%00', 'SYMMETRIC_DEFAULT', 'AES_256', 'AES_128', 'ENCRYPT_DECRYPT'),
    fc.integer({ min: 1, max: 70_000 }).map((n) => 'x'.repeat(n)),
  );
  const base64 = fc.oneof(
    fc.uint8Array({ maxLength: 5000 }).map((b) => Buffer.from(b).toString('base64')),
    fc.constantFrom('====', 'a', '!!!!', 'QQ', 'QQ=', '\u00ff\u00fe', 'A'.repeat(6000)),
    fc.constantFrom(...pool.blobs),
    fc.tuple(fc.constantFrom(...pool.blobs), fc.nat(), fc.nat(255)).map(([b, i, v]) => {
      const raw = Buffer.from(b, 'base64');
      raw[i % raw.length] = v;
      return raw.toString('base64');
    }),
  );
  const number = fc.oneof(
    fc.integer(), fc.double(), fc.constantFrom(0, -1, 1, 1024, 1025, 4096, 4097, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, -1e308, 0.5, 7, 30, 365, 2561),
  );
  const keyRef = fc.constantFrom(...pool.keyIds);
  const scalar = fc.oneof(text, base64, number, fc.boolean(), fc.constant(null), keyRef);
  return fc.oneof(
    { weight: 6, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(scalar, { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(text, number, fc.constant(null)), { maxKeys: 5 }) },
    { weight: 1, arbitrary: fc.array(fc.record({ TagKey: text, TagValue: text }, { requiredKeys: [] }), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  );
}

function bodyArb(pool: ValuePool): fc.Arbitrary<Buffer> {
  const objectBody = fc.dictionary(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }), valueArb(pool), { maxKeys: 6 })
    .map((o) => Buffer.from(JSON.stringify(o)));
  // Mostly-right bodies, so that fuzzing also reaches the operations past validation.
  const plausible = fc.record({
    KeyId: fc.constantFrom(...pool.keyIds),
    Plaintext: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
    CiphertextBlob: fc.constantFrom(...pool.blobs),
    NumberOfBytes: fc.integer({ min: 1, max: 1024 }),
    KeySpec: fc.constant('AES_256'),
    EncryptionContext: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
    Limit: fc.integer({ min: 1, max: 100 }),
  }, { requiredKeys: ['KeyId'] }).map((o) => Buffer.from(JSON.stringify(o)));
  return fc.oneof(
    { weight: 10, arbitrary: plausible },
    { weight: 12, arbitrary: objectBody },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"KeyId":', '[]', 'null', '1e999', '{"a":1}{"b":2}', '\uFEFF{}', '{"KeyId":"\\ud800"}').map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 10, max: BODY_LIMIT * 2 }).map((n) => Buffer.from(`{"Plaintext":"${'A'.repeat(n)}"}`)) },
  );
}

const headerText = fc.string({ maxLength: 60 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s));

export function requestArb(pool: ValuePool): fc.Arbitrary<FuzzRequest> {
  const targets = [...targetsOf('TrentService').map((n) => `TrentService.${n}`), ...targetsOf('Keyward').map((n) => `Keyward.${n}`)];
  // The operations the plausible bodies fit get a share of their own: the target list grows with
  // every operation, and the fuzzer must keep reaching past validation as often as before.
  const dataPlane = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncrypt', 'DescribeKey', 'GenerateRandom'].map((n) => `TrentService.${n}`);
  const target = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...dataPlane) },
    { weight: 10, arbitrary: fc.constantFrom(...targets) },
    { weight: 1, arbitrary: headerText },
    { weight: 1, arbitrary: fc.constantFrom('', 'TrentService.', 'TrentService.Seal', 'Keyward.Seal', 'Keyward.Unseal', 'TrentService.ConnectCustomKeyStore', 'trentservice.encrypt', 'TrentService.Encrypt,TrentService.Decrypt', 'TrentService.__proto__', 'TrentService.constructor') },
  );
  const auth = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...pool.tokens).map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: headerText.map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.tuple(headerText, headerText).map(([a, b]) => `AWS4-HMAC-SHA256 Credential=${a}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${b}`) },
    { weight: 1, arbitrary: fc.constantFrom('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA256 Credential=', 'Basic YTpi', 'Bearer', 'Bearer ', `AWS4-HMAC-SHA256 Credential=${'A'.repeat(5000)}`) },
  );
  const method = fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') });
  const path = fc.oneof(
    { weight: 12, arbitrary: fc.constant('/') },
    { weight: 1, arbitrary: fc.constantFrom('/v1/sys/health', '/v1/sys/seal-status', '/v1/sys/init', '/v1/sys/unseal', '/metrics', '/?a=b', '//', '/%00', '/%ff%fe', '/v1/sys/../sys/health', `/${'a'.repeat(3000)}`) },
    { weight: 1, arbitrary: fc.webPath() },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/x-amz-json-1.1') },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded') },
    { weight: 1, arbitrary: headerText },
  );
  const extra = fc.dictionary(fc.constantFrom('x-amz-date', 'x-amz-content-sha256', 'content-encoding', 'x-amz-security-token', 'accept', 'expect', 'x-forwarded-for', 'host'), headerText, { maxKeys: 3 });
  return fc.record({ method, path, target, auth, contentType, extra, body: bodyArb(pool) }).map((r) => {
    const headers: Record<string, string> = { ...r.extra };
    if (r.target !== '') headers['x-amz-target'] = r.target;
    if (r.auth !== undefined) headers.authorization = r.auth;
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (headers.expect !== undefined) delete headers.expect; // 100-continue waits are client semantics
    if (headers['content-encoding'] !== undefined) delete headers['content-encoding'];
    const body = r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : r.body;
    return { method: r.method, path: r.path, headers, body };
  });
}

export function send(agent: Agent, url: string, req: FuzzRequest): Promise<FuzzResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const r = request({ agent, host: u.hostname, port: u.port, method: req.method, path: req.path, headers: { ...req.headers, 'content-length': String(req.body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/** What is wrong with an answer, or undefined when it is a success or a clear AWS-shaped 4xx. */
export function problemWith(req: FuzzRequest, res: FuzzResponse): string | undefined {
  if (res.status >= 500) return `server error ${res.status}: ${res.body.slice(0, 300)}`;
  if (res.status < 200) return `status ${res.status}`;
  if (res.status < 300) return undefined;
  if (req.method === 'HEAD') return undefined;
  let parsed: { __type?: unknown; message?: unknown };
  try {
    parsed = JSON.parse(res.body) as typeof parsed;
  } catch {
    return `a ${res.status} whose body is not JSON: ${res.body.slice(0, 200)}`;
  }
  if (typeof parsed.__type !== 'string' || !isErrorCode(parsed.__type)) return `unknown __type ${String(parsed.__type)}`;
  if (typeof parsed.message !== 'string' || parsed.message.length === 0 || parsed.message.length > 2000) return `${parsed.__type} without a clear message`;
  if (res.status !== 404 && ERROR_CODES[parsed.__type].http !== res.status) return `${parsed.__type} answered ${res.status}, the registry says ${ERROR_CODES[parsed.__type].http}`;
  if (/\bat [\w.<>]+ \(|node:internal|\/src\//.test(parsed.message)) return `stack trace in message: ${parsed.message.slice(0, 200)}`;
  return undefined;
}
