import { createPrivateKey, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { openInstallation, unsealInstallation } from '../../../src/server.js';
import { wrapLocally } from '../../helpers/key-import.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { keyward, spawnKeyward } from '../../helpers/process.js';
import { tempDir } from '../../helpers/server.js';

/**
 * Secrets hygiene after a real run: a `keyward server` process at log level trace goes through
 * keys, rotations, encryption, data keys, re-encryption, principals, failed authentication,
 * wrong passphrases, oversized and malformed requests, seal and unseal. Then every file in its
 * data directory (database, WAL, the audit file sink), its whole log output, every audit record
 * and every error message it answered are scanned for every secret the run used, in raw, base64, base64url and hex form.
 */

const dataDir = tempDir('keyward-hygiene-');
const credsDir = tempDir('keyward-hygiene-creds-');
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(credsDir, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function forms(secret: Buffer): Buffer[] {
  const out = [secret, Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('base64url')), Buffer.from(secret.toString('hex'))];
  // base64 of a secret embedded at another alignment shares its middle: look for that too.
  const b64 = secret.toString('base64').replace(/=+$/, '');
  if (b64.length > 12) out.push(Buffer.from(b64.slice(4, -4)));
  return out;
}

describe('secrets hygiene after a run', () => {
  it('no plaintext, data key, key material, passphrase, token or secret key in the store files, the log or any error', async () => {
    const passphrase = `hygiene passphrase ${randomBytes(12).toString('hex')}`;
    const wrongPassphrase = `wrong passphrase ${randomBytes(12).toString('hex')}`;
    const auditFile = join(dataDir, 'audit.jsonl');
    const env = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'trace', KEYWARD_PASSPHRASE: passphrase, KEYWARD_AUDIT_FILE: auditFile };
    const secrets: Array<{ what: string; value: Buffer }> = [{ what: 'passphrase', value: Buffer.from(passphrase) }, { what: 'wrong passphrase', value: Buffer.from(wrongPassphrase) }];
    const credsFile = join(credsDir, 'admin.json');
    const init = await keyward(['init', '--data-dir', dataDir, '--credentials-file', credsFile, '--json'], env);
    expect(init.code, init.stderr).toBe(0);
    const admin = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    secrets.push({ what: 'admin secret key', value: Buffer.from(admin.secret_access_key) }, { what: 'admin token secret', value: Buffer.from(admin.token.split('.')[2]!) });

    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], env);
    const errors: string[] = [];
    const auditRecords: unknown[] = [];
    const auth = { token: admin.token };
    const call = async (target: string, body: unknown, as: { token: string } | { accessKeyId: string; secretAccessKey: string } = auth) => {
      const r = await callTarget(server.url, target, body, as);
      if (r.status !== 200) errors.push(JSON.stringify(r.body));
      return r.body;
    };
    try {
      const user = (await call('Keyward.CreatePrincipal', { Name: 'app', Role: 'user' })).Credentials as { AccessKeyId: string; SecretAccessKey: string; Token: string };
      secrets.push({ what: 'user secret key', value: Buffer.from(user.SecretAccessKey) }, { what: 'user token secret', value: Buffer.from(user.Token.split('.')[2]!) });
      const keys: string[] = [];
      for (let i = 0; i < 3; i++) keys.push(((await call('TrentService.CreateKey', { Description: `hygiene ${i}` })).KeyMetadata as { KeyId: string }).KeyId);
      for (const k of keys) await call('TrentService.RotateKeyOnDemand', { KeyId: k });
      const sdk = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: user.AccessKeyId, secretAccessKey: user.SecretAccessKey }, maxAttempts: 1 });
      for (const [i, k] of keys.entries()) {
        const plaintext = Buffer.from(`hygiene plaintext ${i} ${randomBytes(16).toString('hex')}`);
        secrets.push({ what: `plaintext ${i}`, value: plaintext });
        const blob = (await sdk.send(new EncryptCommand({ KeyId: k, Plaintext: plaintext, EncryptionContext: { purpose: 'hygiene' } }))).CiphertextBlob!;
        expect(Buffer.from((await sdk.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { purpose: 'hygiene' } }))).Plaintext!)).toEqual(plaintext);
        const dk = await call('TrentService.GenerateDataKey', { KeyId: k, KeySpec: 'AES_256' }, { token: user.Token });
        secrets.push({ what: `data key ${i}`, value: Buffer.from(dk.Plaintext as string, 'base64') });
        await call('TrentService.ReEncrypt', { CiphertextBlob: dk.CiphertextBlob, DestinationKeyId: keys[(i + 1) % keys.length] });
        // failures: wrong context, oversized plaintext carrying a secret, a bad body around a secret
        await call('TrentService.Decrypt', { CiphertextBlob: Buffer.from(blob).toString('base64'), EncryptionContext: { purpose: 'other' } });
        const big = Buffer.concat([plaintext, Buffer.alloc(5000, 0x41)]);
        await call('TrentService.Encrypt', { KeyId: k, Plaintext: big.toString('base64') });
        await call('TrentService.Encrypt', { KeyId: k, Plaintext: `${plaintext.toString()}!!not base64` });
      }
      // a signing key, an HMAC key, a data key pair and imported HMAC material: private keys and MAC keys are secrets too
      const signer = ((await call('TrentService.CreateKey', { KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY' })).KeyMetadata as { KeyId: string }).KeyId;
      await call('TrentService.Sign', { KeyId: signer, Message: Buffer.from('hygiene').toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' }, { token: user.Token });
      const macKey = ((await call('TrentService.CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' })).KeyMetadata as { KeyId: string }).KeyId;
      await call('TrentService.GenerateMac', { KeyId: macKey, Message: Buffer.from('hygiene').toString('base64'), MacAlgorithm: 'HMAC_SHA_256' }, { token: user.Token });
      await call('TrentService.VerifyMac', { KeyId: macKey, Message: Buffer.from('hygiene').toString('base64'), Mac: Buffer.alloc(32).toString('base64'), MacAlgorithm: 'HMAC_SHA_256' }, { token: user.Token });
      const pair = await call('TrentService.GenerateDataKeyPair', { KeyId: keys[0], KeyPairSpec: 'ECC_NIST_P256' }, { token: user.Token });
      secrets.push({ what: 'data key pair private key', value: Buffer.from(pair.PrivateKeyPlaintext as string, 'base64') });
      const byok = ((await call('TrentService.CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' })).KeyMetadata as { KeyId: string }).KeyId;
      const imported = randomBytes(48);
      secrets.push({ what: 'imported HMAC material', value: imported });
      const params = await call('TrentService.GetParametersForImport', { KeyId: byok, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
      await call('TrentService.ImportKeyMaterial', {
        KeyId: byok, ImportToken: params.ImportToken, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        EncryptedKeyMaterial: wrapLocally(Buffer.from(params.PublicKey as string, 'base64'), 'RSAES_OAEP_SHA_256', imported).toString('base64'),
      });
      sdk.destroy();
      // failed authentication with real key ids and wrong secrets (the wrong secrets are secrets too)
      const wrongSecret = randomBytes(30).toString('base64');
      secrets.push({ what: 'wrong secret key', value: Buffer.from(wrongSecret) });
      await call('Keyward.GetCallerIdentity', {}, { accessKeyId: user.AccessKeyId, secretAccessKey: wrongSecret });
      const [prefix, id] = user.Token.split('.');
      const wrongToken = randomBytes(32).toString('base64url');
      secrets.push({ what: 'wrong token secret', value: Buffer.from(wrongToken) });
      await call('Keyward.GetCallerIdentity', {}, { token: `${prefix}.${id}.${wrongToken}` });
      // seal, a wrong passphrase, then the right one
      expect((await fetch(`${server.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` } })).status).toBe(200);
      for (const p of [wrongPassphrase, passphrase]) {
        const res = await fetch(`${server.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: p }) });
        const text = await res.text();
        if (res.status !== 200) errors.push(text);
      }
      expect(((await call('TrentService.DescribeKey', { KeyId: keys[0] })).KeyMetadata as { KeyId: string }).KeyId).toBe(keys[0]);
      // every audit record of the run, as the audit API returns it (decrypted where stored encrypted)
      let afterSeq: number | undefined;
      do {
        const page = await call('Keyward.ListAuditRecords', { Limit: 1000, ...(afterSeq !== undefined ? { AfterSeq: afterSeq } : {}) });
        auditRecords.push(...(page.Records as unknown[]));
        afterSeq = page.NextSeq as number | undefined;
      } while (afterSeq !== undefined);
    } finally {
      await server.stop();
    }
    expect(errors.length).toBeGreaterThanOrEqual(10);

    // Key material and barrier keys, read from the store by a separate installation afterwards.
    const stored = filesUnder(dataDir).map((f) => ({ f, bytes: readFileSync(f) }));
    const installation = openInstallation(loadConfig({ dataDir, logLevel: 'silent', argon2MemoryKiB: 1024, argon2Iterations: 1 }, {}));
    try {
      await unsealInstallation(installation, passphrase);
      const { keyring } = installation;
      const tenant = await keyring.tenants.require('default');
      const listed = await keyring.keys.list(tenant, undefined, 100);
      for (const key of listed.keys) {
        for (const v of key.versions) {
          const m = await keyring.keys.material(tenant, key.keyId, v.version);
          if (m !== undefined) secrets.push({ what: `material ${key.keyId} v${v.version}`, value: Buffer.from(m) });
          // a private key's scalar on its own, besides its PKCS#8 encoding
          if (m !== undefined && key.keySpec.startsWith('ECC')) {
            secrets.push({ what: `private scalar ${key.keyId}`, value: Buffer.from(createPrivateKey({ key: m, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }).d!, 'base64url') });
          }
        }
      }
      secrets.push({ what: 'tenant derivation key', value: Buffer.from(keyring.barrier.tenantDerivationKey()) }, { what: 'audit key', value: Buffer.from(keyring.barrier.auditKey()) });
    } finally {
      await installation.close();
    }
    expect(secrets.filter((s) => s.what.startsWith('material')).length).toBe(9);
    expect(secrets.filter((s) => s.what.startsWith('private scalar')).length).toBe(1);

    const haystacks = [
      ...stored.map(({ f, bytes }) => ({ where: f, bytes })),
      { where: 'server log', bytes: Buffer.from(server.output()) },
      { where: 'error answers', bytes: Buffer.from(errors.join('\n')) },
      { where: 'audit records (ListAuditRecords)', bytes: Buffer.from(JSON.stringify(auditRecords)) },
    ];
    // the audit trail is there to be scanned: one record per request at least, and its file sink
    expect(auditRecords.length).toBeGreaterThan(30);
    expect(stored.some(({ f, bytes }) => f === auditFile && bytes.length > 1000)).toBe(true);
    const found: string[] = [];
    let scanned = 0;
    for (const h of haystacks) {
      scanned += h.bytes.length;
      for (const s of secrets) {
        if (forms(s.value).some((form) => h.bytes.includes(form))) found.push(`${s.what} in ${h.where}`);
      }
    }
    // positive controls: the scan reads real data (the log names requests; the store names keys)
    expect(server.output()).toMatch(/"level":\d+/);
    expect(stored.some(({ bytes }) => bytes.includes(Buffer.from('keys/default/')))).toBe(true);
    // and it finds a secret where one is meant to be: the 0600 credentials file init wrote outside the data directory
    expect(forms(Buffer.from(admin.secret_access_key)).some((form) => readFileSync(credsFile).includes(form))).toBe(true);
    console.log(`hygiene: ${secrets.length} secrets x ${secrets.length > 0 ? forms(secrets[0]!.value).length : 0} forms, ${haystacks.length} places, ${scanned} bytes scanned, ${found.length} found`);
    expect(found).toEqual([]);
  }, 60_000);
});
