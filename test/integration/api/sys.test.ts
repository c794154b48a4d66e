import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';

const json = async (res: Response) => ({ status: res.status, body: await res.json() as Record<string, unknown> });

describe('seal lifecycle over /v1/sys', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer({ init: false }); });
  afterAll(async () => { await t?.close(); });

  it('an uninitialised server says so and refuses key operations', async () => {
    expect(await json(await fetch(`${t.url}/v1/sys/seal-status`))).toMatchObject({ status: 200, body: { initialized: false, sealed: true } });
    expect((await fetch(`${t.url}/v1/sys/health`)).status).toBe(501);
    const r = await fetch(`${t.url}/`, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ListKeys' }, body: '{}' });
    expect(r.status).toBe(503);
    expect((await r.json() as { __type: string }).__type).toBe('NotInitializedException');
  });

  it('init refuses a short passphrase, then initialises once', async () => {
    expect(await json(await fetch(`${t.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'short' }) }))).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
    const r = await json(await fetch(`${t.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: 'default', principal: 'admin', role: 'admin' });
    const again = await json(await fetch(`${t.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) }));
    expect(again.body.__type).toBe('AlreadyInitializedException');
    expect(await json(await fetch(`${t.url}/v1/sys/seal-status`))).toMatchObject({ body: { initialized: true, sealed: false, type: 'passphrase' } });
    expect((await fetch(`${t.url}/v1/sys/health`)).status).toBe(200);

    const creds = r.body.credentials as { access_key_id: string; secret_access_key: string; token: string };
    const kms = t.client({ accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('before seal') }))).CiphertextBlob;

    // sealing needs a system admin
    expect((await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(403);
    const sealed = await json(await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${creds.token}` }, body: '{}' }));
    expect(sealed.body).toMatchObject({ sealed: true });
    expect((await fetch(`${t.url}/v1/sys/health`)).status).toBe(503);
    expect((await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('SealedException');
    expect(t.server.installation.keyring.keys.cachedMaterialCount).toBe(0);

    // a wrong passphrase fails fast and clearly, and leaves it sealed
    const wrong = await json(await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'not the passphrase' }) }));
    expect(wrong).toMatchObject({ status: 400, body: { __type: 'UnsealFailedException' } });
    expect(String(wrong.body.message)).not.toContain('not the passphrase');
    expect((await json(await fetch(`${t.url}/v1/sys/seal-status`))).body.sealed).toBe(true);
    expect((await json(await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))).body.__type).toBe('ValidationException');

    const unsealed = await json(await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) }));
    expect(unsealed.body).toMatchObject({ sealed: false });
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('before seal');
  });
});
