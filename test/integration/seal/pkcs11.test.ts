import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import pkcs11js from 'pkcs11js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyward, processesIn } from '../../helpers/process.js';
import { SOFTHSM_MODULE, softHsmToken, storeDigest, sysCall } from '../../helpers/seal.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { requireTool } from '../../helpers/services.js';

const hasSoftHsm = requireTool(SOFTHSM_MODULE, 'SoftHSM2 (softhsm2)');
const QUIET = { KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };

/** Reads attributes of the token's key through PKCS#11 itself: the HSM must keep it non-extractable. */
function keyAttributes(env: NodeJS.ProcessEnv, pin: string, label: string): { extractable: boolean; sensitive: boolean; count: number } {
  const saved = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = env.SOFTHSM2_CONF;
  const lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
  lib.C_Initialize();
  try {
    const slot = lib.C_GetSlotList(true)[0]!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, pin);
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    const found = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    const attrs = lib.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_SENSITIVE }]);
    return { extractable: attrs[0]!.value![0] === 1, sensitive: attrs[1]!.value![0] === 1, count: found.length };
  } finally {
    lib.C_Finalize();
    lib.close();
    if (saved === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = saved;
  }
}

describe.skipIf(!hasSoftHsm)('PKCS#11 seal against SoftHSM2', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  it('init with a generated non-extractable key, auto-unseal, clear errors that stay sealed, migration both ways', { timeout: 120_000 }, async () => {
    const token = softHsmToken(join(dir, 'hsm'));
    const dataDir = join(dir, 'data');
    const hsm = ['--pkcs11-module', SOFTHSM_MODULE, '--pkcs11-token-label', token.label];
    const env = { ...QUIET, ...token.env, KEYWARD_PKCS11_PIN: token.pin };

    const init = await keyward(['init', '--data-dir', dataDir, '--seal', 'pkcs11', ...hsm, '--pkcs11-generate-key', '--recovery-shares', '3', '--recovery-threshold', '2', '--json'], env);
    expect(init.code, init.stderr).toBe(0);
    const out = JSON.parse(init.stdout) as { recovery_shares: string[]; access_key_id: string; secret_access_key: string; token: string };
    expect(out.recovery_shares).toHaveLength(3);
    expect(keyAttributes(token.env, token.pin, 'keyward-root-key')).toEqual({ extractable: false, sensitive: true, count: 1 });

    const start = async (args: string[], e: NodeJS.ProcessEnv) => {
      const p = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args], e);
      return p;
    };
    let server = await start(hsm, env);
    expect((await sysCall(server.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: false, type: 'pkcs11', recovery_share_count: 3, recovery_threshold: 2 });
    let kms = kmsClient(server.url, { accessKeyId: out.access_key_id, secretAccessKey: out.secret_access_key });
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('hsm guarded') }))).CiphertextBlob!;
    kms.destroy();
    await server.stop();
    const digest = storeDigest(dataDir);

    // wrong PIN, missing key, missing module: each a clear error, the server stays up and sealed, the store untouched
    const failures: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [hsm, { ...env, KEYWARD_PKCS11_PIN: '00000000' }, 'rejected the PIN'],
      [[...hsm, '--pkcs11-key-label', 'no-such-key'], env, 'no AES key labelled "no-such-key"'],
      [['--pkcs11-module', join(dir, 'missing.so'), '--pkcs11-token-label', token.label], env, 'Cannot load the PKCS#11 module'],
      [['--pkcs11-module', SOFTHSM_MODULE, '--pkcs11-token-label', 'other'], env, 'no token labelled "other"'],
    ];
    for (const [args, e, message] of failures) {
      const p = await start(args, e);
      expect(p.output()).toContain('SealUnavailableException');
      expect(p.output()).toContain(message);
      expect(p.output()).not.toContain(token.pin);
      expect((await sysCall(p.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true, type: 'pkcs11' });
      const retry = await sysCall(p.url, 'POST', 'unseal', {});
      expect(retry).toMatchObject({ status: 503, body: { __type: 'SealUnavailableException' } });
      await p.stop();
      expect(storeDigest(dataDir)).toBe(digest);
    }

    server = await start(hsm, env);
    kms = kmsClient(server.url, { accessKeyId: out.access_key_id, secretAccessKey: out.secret_access_key });
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('hsm guarded');

    // migration pkcs11 -> passphrase needs the recovery shares; wrong ones change nothing
    const wrong = await sysCall(server.url, 'POST', 'rekey', { shares: [out.recovery_shares[0], out.recovery_shares[0]], new_seal: 'passphrase', new_passphrase: TEST_PASSPHRASE }, out.token);
    expect(wrong.body.__type).toBe('ValidationException');
    const toPass = await sysCall(server.url, 'POST', 'rekey', { shares: out.recovery_shares.slice(1), new_seal: 'passphrase', new_passphrase: TEST_PASSPHRASE }, out.token);
    expect(toPass).toMatchObject({ status: 200, body: { type: 'passphrase' } });
    await sysCall(server.url, 'POST', 'seal', {}, out.token);
    expect((await sysCall(server.url, 'POST', 'unseal', { passphrase: TEST_PASSPHRASE })).body.sealed).toBe(false);
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('hsm guarded');

    // and back: passphrase -> pkcs11 (new recovery shares), auto-unseal after restart
    const back = await sysCall(server.url, 'POST', 'rekey', { passphrase: TEST_PASSPHRASE, new_seal: 'pkcs11', new_recovery_shares: 1, new_recovery_threshold: 1 }, out.token);
    expect(back).toMatchObject({ status: 200, body: { type: 'pkcs11' } });
    expect(back.body.recovery_shares).toHaveLength(1);
    kms.destroy();
    await server.stop();
    server = await start(hsm, env);
    kms = kmsClient(server.url, { accessKeyId: out.access_key_id, secretAccessKey: out.secret_access_key });
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('hsm guarded');
    kms.destroy();
  });
});
