import { buildClient, CommitmentPolicy, getLocalCryptographicMaterialsCache, KmsKeyringNode, NodeCachingMaterialsManager } from '@aws-crypto/client-node';
import { CreateKeyCommand, KMS } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardClient } from '../../../src/client/index.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

describe('the AWS Encryption SDK for JavaScript through Keyward', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('encrypts and decrypts a message with KmsKeyringNode pointed at Keyward', async () => {
    const arn = (await t.kms.send(new CreateKeyCommand({ Description: 'esdk' }))).KeyMetadata!.Arn!;
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    // the only Keyward-specific setting: the endpoint
    const kms = new KMS({ endpoint: t.url, region: 'us-east-1', credentials: t.admin, maxAttempts: 1 });
    // (the cast: the Encryption SDK's typings predate exactOptionalPropertyTypes; KMS is its client)
    const clientProvider = (() => kms) as unknown as NonNullable<NonNullable<ConstructorParameters<typeof KmsKeyringNode>[0]>['clientProvider']>;
    const keyring = new KmsKeyringNode({ generatorKeyId: arn, clientProvider });
    const plaintext = Buffer.from('a message for the encryption sdk '.repeat(1000));
    const context = { purpose: 'test', stage: 'ci' };
    const { result } = await encrypt(keyring, plaintext, { encryptionContext: context });
    expect(result.includes(plaintext.subarray(0, 64))).toBe(false);
    const { plaintext: back, messageHeader } = await decrypt(keyring, result);
    expect(Buffer.from(back).equals(plaintext)).toBe(true);
    expect(messageHeader.encryptionContext).toMatchObject(context);
    expect(messageHeader.encryptedDataKeys[0]!.providerInfo).toBe(arn);
    kms.destroy();
  });

  /** A keyring on a KMS client that counts the calls it makes to Keyward. */
  async function countingKeyring(): Promise<{ keyring: KmsKeyringNode; arn: string; calls: string[]; kms: KMS }> {
    const arn = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const kms = new KMS({ endpoint: t.url, region: 'us-east-1', credentials: t.admin, maxAttempts: 1 });
    const calls: string[] = [];
    kms.middlewareStack.add((next, context) => (args) => {
      calls.push(String(context.commandName));
      return next(args);
    }, { step: 'initialize' });
    const clientProvider = (() => kms) as unknown as NonNullable<NonNullable<ConstructorParameters<typeof KmsKeyringNode>[0]>['clientProvider']>;
    return { keyring: new KmsKeyringNode({ generatorKeyId: arn, clientProvider }), arn, calls, kms };
  }

  it("the data key in an ESDK message is a Keyward ciphertext: Keyward's own SDK unwraps it with the message's context", async () => {
    const { keyring, kms } = await countingKeyring();
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const { result } = await encrypt(keyring, Buffer.from('interop'), { encryptionContext: { app: 'esdk' } });
    const { messageHeader } = await decrypt(keyring, result);
    const client = new KeywardClient({ endpoint: t.url, credentials: t.admin, maxAttempts: 1 });
    try {
      const edk = messageHeader.encryptedDataKeys[0]!;
      const { plaintext } = await client.decrypt({ ciphertextBlob: edk.encryptedDataKey, context: messageHeader.encryptionContext });
      expect(plaintext.length).toBe(32); // the committing suite's AES-256 data key
      await expect(client.decrypt({ ciphertextBlob: edk.encryptedDataKey, context: { app: 'esdk' } })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    } finally {
      client.close();
      kms.destroy();
    }
  });

  it("the ESDK's caching materials manager through Keyward: 20 messages, one GenerateDataKey", async () => {
    const { keyring, calls, kms } = await countingKeyring();
    const cmm = new NodeCachingMaterialsManager({
      backingMaterials: keyring, cache: getLocalCryptographicMaterialsCache(100), maxAge: 60_000, maxMessagesEncrypted: 100,
    });
    // the cache only serves suites without signatures; ask for one explicitly
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const sealed: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      sealed.push((await encrypt(cmm, Buffer.from(`message ${i}`), { encryptionContext: { app: 'cached' }, suiteId: 0x0478, plaintextLength: 16 })).result);
    }
    expect(calls.filter((c) => c === 'GenerateDataKeyCommand')).toHaveLength(1);
    for (const [i, m] of sealed.entries()) expect(Buffer.from((await decrypt(cmm, m)).plaintext).toString()).toBe(`message ${i}`);
    expect(calls.filter((c) => c === 'DecryptCommand')).toHaveLength(1);
    kms.destroy();
  });
});
