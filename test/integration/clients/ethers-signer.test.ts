import { AwsKmsSigner } from '@cuonghx.gu-tech/ethers-aws-kms-signer';
import { CreateKeyCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { getAddress, keccak256, Transaction, TypedDataEncoder, verifyMessage, verifyTypedData } from 'ethers';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/**
 * An Ethereum wallet on a Keyward key: an unmodified ethers v6 signer built on @aws-sdk/client-kms
 * (GetPublicKey, Sign with ECDSA_SHA_256 over a DIGEST, DER signatures). The only Keyward-specific
 * setting is the endpoint, given as the SDK's standard AWS_ENDPOINT_URL_KMS.
 */
describe('an ethers.js AWS KMS signer through Keyward', () => {
  let t: TestServer;
  let keyId: string;
  let signer: AwsKmsSigner;
  let expectedAddress: string;
  const saved = process.env.AWS_ENDPOINT_URL_KMS;

  beforeAll(async () => {
    t = await startTestServer();
    keyId = (await t.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY', Description: 'wallet' }))).KeyMetadata!.KeyId!;
    // the address derived here from GetPublicKey, independently of the signer: keccak256(x || y), last 20 bytes
    const spki = Buffer.from((await t.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
    const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    expect(jwk.crv).toBe('secp256k1');
    const point = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    expectedAddress = getAddress(`0x${keccak256(point).slice(-40)}`);
    process.env.AWS_ENDPOINT_URL_KMS = t.url;
    signer = new AwsKmsSigner({ keyId, region: 'us-east-1', credentials: { accessKeyId: t.admin.accessKeyId, secretAccessKey: t.admin.secretAccessKey } });
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
    else process.env.AWS_ENDPOINT_URL_KMS = saved;
    await t?.close();
  });

  it('the signer\'s address is the one derived from GetPublicKey', async () => {
    expect(getAddress(await signer.getAddress())).toBe(expectedAddress);
  });

  it('signs an Ethereum message (EIP-191) whose recovered address matches', async () => {
    for (const message of ['hello from Keyward', 'a second message, another signature']) {
      const signature = await signer.signMessage(message);
      expect(verifyMessage(message, signature)).toBe(expectedAddress);
    }
  });

  it('signs EIP-712 typed data and an EIP-1559 transaction that recover to the same address', async () => {
    const domain = { name: 'Keyward', version: '1', chainId: 1, verifyingContract: '0x0000000000000000000000000000000000000001' };
    const types = { Mail: [{ name: 'to', type: 'address' }, { name: 'contents', type: 'string' }] };
    const value = { to: '0x00000000000000000000000000000000000000aa', contents: 'signed inside a KMS' };
    expect(TypedDataEncoder.hash(domain, types, value)).toMatch(/^0x[0-9a-f]{64}$/);
    expect(verifyTypedData(domain, types, value, await signer.signTypedData(domain, types, value))).toBe(expectedAddress);
    // (from: null, because this signer checks any other value against its lowercase address and fails)
    const raw = await signer.signTransaction({
      from: null, type: 2, chainId: 1, nonce: 0, to: '0x00000000000000000000000000000000000000bb', value: 1n, gasLimit: 21000n,
      maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
    });
    expect(Transaction.from(raw).from).toBe(expectedAddress);
  });
});
