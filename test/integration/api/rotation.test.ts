import {
  CreateKeyCommand, DecryptCommand, DisableKeyCommand, DisableKeyRotationCommand, EnableKeyRotationCommand, EncryptCommand,
  GetKeyRotationStatusCommand, ListKeyRotationsCommand, RotateKeyOnDemandCommand, EnableKeyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBlobHeader } from '../../../src/format/index.js';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const versionOf = (blob: Uint8Array | undefined) => readBlobHeader(Buffer.from(blob!)).version;

describe('rotation', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('RotateKeyOnDemand makes a new primary; every older ciphertext still decrypts', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blobs = [];
    for (let v = 1; v <= 3; v++) {
      const e = await t.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from(`v${v}`) }));
      expect(versionOf(e.CiphertextBlob)).toBe(v);
      blobs.push(e.CiphertextBlob!);
      const r = await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
      expect(r.KeyId).toBe(k.KeyId); // AWS answers the key id here, not the ARN
    }
    for (const [i, blob] of blobs.entries()) {
      expect(Buffer.from((await t.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(`v${i + 1}`);
    }
    const rotations = await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }));
    expect(rotations.Rotations!.map((r) => r.RotationType)).toEqual(['ON_DEMAND', 'ON_DEMAND', 'ON_DEMAND']);
    expect(rotations.Rotations![0]!.KeyId).toBe(k.Arn);
    const paged = await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, Limit: 2 }));
    expect(paged.Rotations).toHaveLength(2);
    expect(paged.Truncated).toBe(true);
    const rest = await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, Limit: 2, Marker: paged.NextMarker }));
    expect(rest.Rotations).toHaveLength(1);
    expect(rest.Truncated).toBe(false);
  });

  it('concurrent rotations leave exactly one primary and every version complete', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await Promise.all(Array.from({ length: 8 }, () => t.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }))));
    const tenant = await t.server.installation.keyring.tenants.require('default');
    const key = await t.server.installation.keyring.keys.require(tenant, k.KeyId!);
    expect(key.versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(key.primaryVersion).toBe(9);
    for (const v of key.versions) expect(await t.server.installation.keyring.keys.material(tenant, k.KeyId!, v.version)).toBeDefined();
  });

  it('rotation status: EnableKeyRotation with a 90-2560 day period (default 365)', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    expect((await t.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).KeyRotationEnabled).toBe(false);
    await t.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId }));
    const s = await t.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }));
    expect(s).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 365, KeyId: k.Arn });
    expect(s.NextRotationDate!.getTime()).toBeGreaterThan(Date.now() + 364 * 86_400_000);
    for (const days of [89, 2561]) {
      expect((await errorOf(t.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: days })))).name).toBe('ValidationException');
    }
    await t.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 90 }));
    expect((await t.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).RotationPeriodInDays).toBe(90);
    await t.kms.send(new DisableKeyRotationCommand({ KeyId: k.KeyId }));
    expect((await t.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).KeyRotationEnabled).toBe(false);
  });

  it('automatic rotation really happens when its period is due, and only then', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await t.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 90 }));
    t.advanceDays(89);
    await t.server.installation.keyring.scheduler.tick();
    expect((await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations).toHaveLength(0);
    t.advanceDays(1.01);
    await t.server.installation.keyring.scheduler.tick();
    await t.server.installation.keyring.scheduler.tick();
    const rotations = (await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations!;
    expect(rotations.map((r) => r.RotationType)).toEqual(['AUTOMATIC']);
    const e = await t.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }));
    expect(versionOf(e.CiphertextBlob)).toBe(2);
    const next = (await t.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).NextRotationDate!;
    expect(next.getTime()).toBeGreaterThan(t.server.installation.services.clock().getTime() + 89 * 86_400_000);
  });

  it('a disabled key is not rotated, on demand or automatically, until enabled again', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await t.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 90 }));
    await t.kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    expect((await errorOf(t.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })))).name).toBe('DisabledException');
    t.advanceDays(91);
    await t.server.installation.keyring.scheduler.tick();
    await t.kms.send(new EnableKeyCommand({ KeyId: k.KeyId }));
    expect((await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations).toHaveLength(0);
    await t.server.installation.keyring.scheduler.tick();
    expect((await t.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations).toHaveLength(1);
  });
});
