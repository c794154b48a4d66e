import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../helpers/services.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
const AWS = '/usr/bin/aws';
const hasCli = requireTool(AWS, 'the AWS CLI (/usr/bin/aws)');

describe.skipIf(!hasCli)('the AWS CLI against Keyward', () => {
  let t: TestServer;
  let home: string;
  const aws = async (...args: string[]) => {
    const r = await run(AWS, ['kms', ...args, '--endpoint-url', t.url, '--output', 'json'], {
      env: {
        PATH: process.env.PATH ?? '', HOME: home, AWS_ACCESS_KEY_ID: t.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey,
        AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'), AWS_PAGER: '',
      },
    });
    return r.stdout.trim() === '' ? {} : JSON.parse(r.stdout) as Record<string, unknown>;
  };
  beforeAll(async () => {
    t = await startTestServer();
    home = mkdtempSync(join(tmpdir(), 'keyward-awscli-'));
    writeFileSync(join(home, 'config'), '[default]\ncli_binary_format = raw-in-base64-out\n');
  });
  afterAll(async () => {
    await t?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('create-key, encrypt and decrypt (with an encryption context), list-keys', async () => {
    const created = await aws('create-key', '--description', 'from the cli');
    const keyId = (created.KeyMetadata as { KeyId: string }).KeyId;
    const plaintextFile = join(home, 'plain.txt');
    writeFileSync(plaintextFile, 'secret from the aws cli');
    const enc = await aws('encrypt', '--key-id', keyId, '--plaintext', `fileb://${plaintextFile}`, '--encryption-context', 'app=cli');
    const blobFile = join(home, 'blob.bin');
    writeFileSync(blobFile, Buffer.from(String(enc.CiphertextBlob), 'base64'));
    const dec = await aws('decrypt', '--ciphertext-blob', `fileb://${blobFile}`, '--encryption-context', 'app=cli');
    expect(Buffer.from(String(dec.Plaintext), 'base64').toString()).toBe('secret from the aws cli');
    expect(dec.KeyId).toBe((created.KeyMetadata as { Arn: string }).Arn);
    const listed = await aws('list-keys');
    expect((listed.Keys as Array<{ KeyId: string }>).map((k) => k.KeyId)).toContain(keyId);
  });

  it('an error is reported by name and exit status', async () => {
    const err = await aws('describe-key', '--key-id', 'alias/does-not-exist').then(() => undefined, (e: { stderr: string; code: number }) => e);
    expect(err?.code).toBe(254);
    expect(err?.stderr).toContain('NotFoundException');
  });
});
