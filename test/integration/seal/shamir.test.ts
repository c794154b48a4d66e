import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyward, spawnKeyward } from '../../helpers/process.js';
import { adminOf, dataDirContains, storeDigest, sysCall } from '../../helpers/seal.js';
import { kmsClient, startTestServer, tempDir } from '../../helpers/server.js';

const QUIET = { KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn' };

async function encryptSample(kms: KMSClient, text: string): Promise<Uint8Array> {
  const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
  return (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
}

async function decryptText(kms: KMSClient, blob: Uint8Array): Promise<string> {
  return Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();
}

/** Flips one byte of a share's y values: a well-formed share that combines to a wrong key. */
function corrupt(share: string): string {
  const b = Buffer.from(share, 'base64');
  b[0] = b[0]! ^ 0x5a;
  return b.toString('base64');
}

describe('shamir seal over HTTP', () => {
  const dataDir = tempDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('init 5/3, progress, reset, duplicate and wrong shares, restart, rekey and root rotation keep the data', { timeout: 120_000 }, async () => {
    let t = await startTestServer({ dataDir, init: false, config: { unsealRatePerMinute: 0 } });
    // one unseal ceremony at a time: the first share answers the nonce the others carry
    let nonce: string | undefined;
    const unseal = async (body: Record<string, unknown>) => {
      const r = await sysCall(t.url, 'POST', 'unseal', { ...body, ...(nonce !== undefined ? { nonce } : {}) });
      if (typeof r.body.nonce === 'string') nonce = r.body.nonce;
      if (r.body.sealed === false || r.body.progress === 0 || r.body.__type === 'UnsealFailedException') nonce = undefined;
      return r;
    };
    try {
      const bad = await sysCall(t.url, 'POST', 'init', { seal: 'shamir', shares: 3, threshold: 5 });
      expect(bad).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
      expect(String(bad.body.message)).toContain('threshold');

      const init = await sysCall(t.url, 'POST', 'init', { seal: 'shamir', shares: 5, threshold: 3 });
      expect(init.status).toBe(200);
      const shares = init.body.shares as string[];
      expect(shares).toHaveLength(5);
      expect(new Set(shares).size).toBe(5);
      const admin = adminOf(init.body);
      const kms = kmsClient(t.url, admin);
      const blob = await encryptSample(kms, 'made before anything');
      // shares are never stored
      for (const share of shares) {
        expect(dataDirContains(dataDir, Buffer.from(share, 'base64').subarray(0, 32))).toBe(false);
        expect(dataDirContains(dataDir, Buffer.from(share))).toBe(false);
      }
      expect((await sysCall(t.url, 'GET', 'seal-status')).body).toMatchObject({ type: 'shamir', share_count: 5, threshold: 3, progress: 0, sealed: false });

      await sysCall(t.url, 'POST', 'seal', {}, admin.token);
      expect((await unseal({ share: shares[0] })).body).toMatchObject({ sealed: true, progress: 1, threshold: 3 });
      const dup = await unseal({ share: shares[0] });
      expect(dup).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
      expect((await unseal({ share: 'bm90IGEgc2hhcmU=' })).body.__type).toBe('ValidationException');
      expect((await unseal({ passphrase: 'a passphrase' })).body.__type).toBe('ValidationException');
      expect((await unseal({ reset: true })).body).toMatchObject({ sealed: true, progress: 0 });

      // a wrong combination is detected by the check value: clear error, still sealed, progress reset, store untouched
      const before = storeDigest(dataDir);
      await unseal({ share: shares[1] });
      await unseal({ share: shares[2] });
      const wrong = await unseal({ share: corrupt(shares[3]!) });
      expect(wrong).toMatchObject({ status: 400, body: { __type: 'UnsealFailedException' } });
      expect(String(wrong.body.message)).toContain('check value');
      expect((await sysCall(t.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true, progress: 0 });
      expect(storeDigest(dataDir)).toBe(before);

      for (const i of [4, 1, 3]) await unseal({ share: shares[i] });
      expect((await sysCall(t.url, 'GET', 'seal-status')).body.sealed).toBe(false);
      expect(await decryptText(kms, blob)).toBe('made before anything');

      // restart: sealed until three shares arrive
      kms.destroy();
      await t.close();
      t = await startTestServer({ dataDir, admin, config: { unsealRatePerMinute: 0 } });
      expect((await sysCall(t.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true, type: 'shamir' });
      for (const i of [2, 0, 4]) await unseal({ share: shares[i] });
      expect(await decryptText(t.kms, blob)).toBe('made before anything');

      // rekey needs threshold shares and a system admin; new layout 3/2, old shares stop working
      expect((await sysCall(t.url, 'POST', 'rekey', { shares: shares.slice(0, 3), new_seal: 'shamir', new_shares: 3, new_threshold: 2 })).status).toBe(403);
      const unauthorised = await sysCall(t.url, 'POST', 'rekey', { shares: shares.slice(0, 2), new_seal: 'shamir', new_shares: 3, new_threshold: 2 }, admin.token);
      expect(unauthorised.body.__type).toBe('ValidationException');
      const wrongAuth = await sysCall(t.url, 'POST', 'rekey', { shares: [shares[0], shares[1], corrupt(shares[2]!)], new_seal: 'shamir', new_shares: 3, new_threshold: 2 }, admin.token);
      expect(wrongAuth.body.__type).toBe('UnsealFailedException');
      const rekeyed = await sysCall(t.url, 'POST', 'rekey', { shares: [shares[4], shares[2], shares[0]], new_seal: 'shamir', new_shares: 3, new_threshold: 2 }, admin.token);
      expect(rekeyed.status).toBe(200);
      const newShares = rekeyed.body.shares as string[];
      expect(newShares).toHaveLength(3);
      const blob2 = await encryptSample(t.kms, 'made after rekey');

      await sysCall(t.url, 'POST', 'seal', {}, admin.token);
      // old shares no longer unseal: at the new threshold (2) they combine to a wrong key
      expect((await unseal({ share: shares[0] })).body).toMatchObject({ progress: 1, threshold: 2 });
      expect((await unseal({ share: shares[1] })).body.__type).toBe('UnsealFailedException');
      await unseal({ share: newShares[2] });
      expect((await unseal({ share: newShares[0] })).body.sealed).toBe(false);
      expect(await decryptText(t.kms, blob)).toBe('made before anything');

      // root rotation: same shares, new root key; everything still decrypts after a seal cycle
      const rotated = await sysCall(t.url, 'POST', 'rotate-root', { shares: [newShares[1], newShares[2]] }, admin.token);
      expect(rotated).toMatchObject({ status: 200, body: { rotated: 'root', type: 'shamir' } });
      expect(rotated.body.shares).toBeUndefined();
      await sysCall(t.url, 'POST', 'seal', {}, admin.token);
      await unseal({ share: newShares[0] });
      expect((await unseal({ share: newShares[1] })).body.sealed).toBe(false);
      expect(await decryptText(t.kms, blob)).toBe('made before anything');
      expect(await decryptText(t.kms, blob2)).toBe('made after rekey');
    } finally {
      await t.close();
    }
  });
});

describe('shamir seal through the CLI', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keyward init --shares 5 --threshold 3 prints the shares once; keyward unseal takes them one at a time', { timeout: 120_000 }, async () => {
    const dataDir = join(dir, 'data');
    const text = await keyward(['init', '--data-dir', dataDir, '--shares', '5', '--threshold', '3'], QUIET);
    expect(text.code, text.stderr).toBe(0);
    const printed = [...text.stdout.matchAll(/Unseal (\d): (\S+)/g)].map((m) => m[2]!);
    expect(printed).toHaveLength(5);
    expect(text.stdout).toContain('3 of 5 needed');
    expect(text.stdout).toContain('stored nowhere');

    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], QUIET);
    try {
      expect(server.output()).toContain('3 unseal shares are needed');
      const env = { KEYWARD_ENDPOINT: server.url };
      let nonce: string | undefined;
      for (const [n, share] of printed.slice(1, 4).entries()) {
        const file = join(dir, `share-${n}`);
        writeFileSync(file, `${share}\n`, { mode: 0o600 });
        const r = await keyward(['unseal', '--share-file', file, ...(nonce !== undefined ? ['--nonce', nonce] : [])], env);
        expect(r.code, r.stderr).toBe(0);
        if (n < 2) expect(r.stderr).toContain(`progress: ${n + 1}/3`);
        // the first share answers the ceremony's nonce; the next operators give it with theirs
        if (n === 0) nonce = /nonce: ([0-9a-f]{32})/.exec(r.stderr)?.[1];
        if (n === 0) expect(nonce).toBeDefined();
        expect(JSON.parse(r.stdout).sealed).toBe(n === 2 ? false : true);
      }
      // a share never shows in argv-visible places: the server log does not carry it
      expect(server.output()).not.toContain(printed[1]!);
      const reset = await keyward(['unseal', '--reset'], env);
      expect(JSON.parse(reset.stdout)).toMatchObject({ sealed: false, progress: 0 });
    } finally {
      await server.stop();
    }
    const json = await keyward(['init', '--data-dir', join(dir, 'other'), '--seal', 'shamir', '--shares', '3', '--threshold', '2', '--json'], QUIET);
    const body = JSON.parse(json.stdout) as { shares: string[]; access_key_id: string };
    expect(body.shares).toHaveLength(3);
    expect(body.access_key_id).toMatch(/^KW/);
  });
});
