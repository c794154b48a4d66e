import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { CreateKeyCommand, KMS } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
