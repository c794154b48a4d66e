import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import type { KeywardInstance } from './keyward.js';

/** An AWS SDK client for the instance's admin (setup only: the load itself goes through autocannon). */
export function adminClient(k: KeywardInstance): KMSClient {
  return new KMSClient({ endpoint: k.url, region: k.admin.region, credentials: { accessKeyId: k.admin.accessKeyId, secretAccessKey: k.admin.secretAccessKey }, maxAttempts: 1 });
}

export async function createKey(client: KMSClient, description = 'bench'): Promise<string> {
  const r = await client.send(new CreateKeyCommand({ Description: description }));
  return r.KeyMetadata!.KeyId!;
}

/** A ciphertext blob (base64, as the JSON protocol carries it) of `plaintext` under keyId. */
export async function encryptOnce(client: KMSClient, keyId: string, plaintext: Uint8Array): Promise<string> {
  const r = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
  return Buffer.from(r.CiphertextBlob!).toString('base64');
}

export function encryptBody(keyId: string, plaintextBytes: number): string {
  return JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(plaintextBytes, 0x61).toString('base64') });
}
