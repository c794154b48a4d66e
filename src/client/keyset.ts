import { randomInt } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { AES_KEY_BYTES } from '../crypto/aead.js';
import { randomBytes } from '../crypto/random.js';
import { zeroize } from '../crypto/zeroize.js';
import { encodeKeySource, type KeySource } from '../format/envelope.js';
import { Envelope } from './envelope.js';
import { InvalidCiphertextError, KeywardUsageError } from './errors.js';
import type { DataKeyLease, EncryptionKeyRequest, KeyProvider } from './key-provider.js';
import type { EncryptionContext, KeywardClient } from './keyward-client.js';

export interface KeysetOptions {
  /**
   * Messages (envelopes or streams) per key before the keyset rotates itself (or, with
   * autoRotate: false, refuses to encrypt). Default 2^31, half the AES-GCM random-nonce limit
   * of 2^32 (NIST SP 800-38D); it may not exceed 2^32.
   */
  readonly maxMessagesPerKey?: number;
  /** Rotate automatically when the primary is used up (default true); save() afterwards. */
  readonly autoRotate?: boolean;
}

export interface KeysetKeyInfo {
  readonly id: number;
  readonly primary: boolean;
  readonly createdAt: Date;
  readonly messages: number;
}

interface KeysetKey {
  readonly id: number;
  readonly material: Buffer;
  readonly createdAt: number;
  messages: number;
  readonly source: Buffer;
}

const SERIAL_VERSION = 0x01;
const KEY_RECORD = 4 + 8 + 8 + AES_KEY_BYTES;
const FILE_FORMAT = 'keyward-keyset';
const GCM_RANDOM_NONCE_LIMIT = 2 ** 32;

/**
 * Local keyset mode: several AES-256 keys, one primary, each named by a 4-byte id that every
 * envelope carries, so data is encrypted and decrypted without a KMS call. The keyset as a whole
 * is wrapped by a Keyward key (save/load). Rotation adds a new primary; older keys still decrypt.
 * A usage counter per key rotates before the AES-GCM random-nonce limit is reachable.
 */
export class Keyset implements KeyProvider {
  private readonly keys = new Map<number, KeysetKey>();
  private primary: number;
  private readonly maxMessages: number;
  private readonly autoRotate: boolean;
  /** True when keys or counters changed since the last save/load. */
  dirty = false;

  private constructor(keys: KeysetKey[], primary: number, options: KeysetOptions) {
    for (const k of keys) this.keys.set(k.id, k);
    this.primary = primary;
    this.maxMessages = options.maxMessagesPerKey ?? 2 ** 31;
    if (!Number.isInteger(this.maxMessages) || this.maxMessages < 1 || this.maxMessages > GCM_RANDOM_NONCE_LIMIT) {
      throw new KeywardUsageError('maxMessagesPerKey must be an integer from 1 to 2^32 (the AES-GCM random-nonce limit)');
    }
    this.autoRotate = options.autoRotate ?? true;
  }

  /** A new keyset with one (primary) key. */
  static generate(options: KeysetOptions = {}): Keyset {
    const ks = new Keyset([], 0, options);
    ks.rotate();
    return ks;
  }

  /** Opens a keyset file written by save(), unwrapping it through Keyward. */
  static async load(path: string, client: KeywardClient, options: KeysetOptions & { context?: EncryptionContext } = {}): Promise<Keyset> {
    return Keyset.unwrap(await readFile(path), client, options);
  }

  /** The inverse of wrap(): any tampering or a wrong context is InvalidCiphertextError. */
  static async unwrap(file: Buffer, client: KeywardClient, options: KeysetOptions & { context?: EncryptionContext } = {}): Promise<Keyset> {
    let doc: { format?: unknown; version?: unknown; envelope?: unknown };
    try {
      doc = JSON.parse(file.toString('utf8')) as typeof doc;
    } catch {
      throw new InvalidCiphertextError();
    }
    if (doc.format !== FILE_FORMAT || doc.version !== 1 || typeof doc.envelope !== 'string') throw new InvalidCiphertextError();
    const serial = await new Envelope(client, { cache: false }).decrypt(Buffer.from(doc.envelope, 'base64'), keysetContext(options.context));
    try {
      return Keyset.deserialize(serial, options);
    } finally {
      zeroize(serial);
    }
  }

  /** Adds a new key and makes it the primary; returns its id. */
  rotate(): number {
    let id: number;
    do id = randomInt(1, 2 ** 32 - 1); while (this.keys.has(id));
    this.keys.set(id, { id, material: randomBytes(AES_KEY_BYTES), createdAt: Date.now(), messages: 0, source: encodeKeySource({ kind: 'keyset', keyId: id }) });
    this.primary = id;
    this.dirty = true;
    return id;
  }

  get primaryId(): number {
    return this.primary;
  }

  /** Every key, newest last, without material. */
  list(): KeysetKeyInfo[] {
    return [...this.keys.values()].map((k) => ({ id: k.id, primary: k.id === this.primary, createdAt: new Date(k.createdAt), messages: k.messages }));
  }

  /** The keyset wrapped by a Keyward key: a small JSON document holding an envelope. */
  async wrap(client: KeywardClient, keyId: string, context?: EncryptionContext): Promise<Buffer> {
    const serial = this.serialize();
    try {
      const sealed = await new Envelope(client, { cache: false }).encrypt(serial, { keyId, ...keysetContext(context) });
      return Buffer.from(`${JSON.stringify({ format: FILE_FORMAT, version: 1, wrappedBy: keyId, envelope: sealed.toString('base64') }, null, 2)}\n`);
    } finally {
      zeroize(serial);
    }
  }

  /** Writes the wrapped keyset atomically (temporary file, then rename), owner-only. */
  async save(path: string, client: KeywardClient, keyId: string, context?: EncryptionContext): Promise<void> {
    const bytes = await this.wrap(client, keyId, context);
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    this.dirty = false;
  }

  /** Zeroizes every key; the keyset is unusable afterwards. */
  destroy(): void {
    for (const k of this.keys.values()) zeroize(k.material);
    this.keys.clear();
  }

  encryptionKey(request: EncryptionKeyRequest): Promise<DataKeyLease> {
    try {
      return Promise.resolve(this.cachedEncryptionKey(request));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  cachedEncryptionKey(_request: EncryptionKeyRequest): DataKeyLease {
    let k = this.keys.get(this.primary);
    if (k === undefined) throw new KeywardUsageError('the keyset has no keys (destroyed?)');
    if (k.messages >= this.maxMessages) {
      if (!this.autoRotate) throw new KeywardUsageError(`keyset key ${k.id} reached its limit of ${this.maxMessages} messages: rotate() the keyset`);
      this.rotate();
      k = this.keys.get(this.primary)!;
    }
    k.messages++;
    this.dirty = true;
    return { key: k.material, encodedSource: k.source, done: noop };
  }

  decryptionKey(source: KeySource): Promise<DataKeyLease> {
    const k = source.kind === 'keyset' ? this.keys.get(source.keyId) : undefined;
    if (k === undefined) return Promise.reject(new InvalidCiphertextError());
    return Promise.resolve({ key: k.material, encodedSource: k.source, done: noop });
  }

  /** version(1) | primary id(4) | count(2) | count x [id(4) | messages(8) | created ms(8) | material(32)]. */
  private serialize(): Buffer {
    const out = Buffer.alloc(7 + this.keys.size * KEY_RECORD);
    out[0] = SERIAL_VERSION;
    out.writeUInt32BE(this.primary, 1);
    out.writeUInt16BE(this.keys.size, 5);
    let off = 7;
    for (const k of this.keys.values()) {
      off = out.writeUInt32BE(k.id, off);
      off = out.writeBigUInt64BE(BigInt(k.messages), off);
      off = out.writeBigUInt64BE(BigInt(k.createdAt), off);
      off += k.material.copy(out, off);
    }
    return out;
  }

  private static deserialize(b: Buffer, options: KeysetOptions): Keyset {
    if (b.length < 7 || b[0] !== SERIAL_VERSION) throw new InvalidCiphertextError();
    const primary = b.readUInt32BE(1);
    const count = b.readUInt16BE(5);
    if (b.length !== 7 + count * KEY_RECORD) throw new InvalidCiphertextError();
    const keys: KeysetKey[] = [];
    for (let i = 0, off = 7; i < count; i++, off += KEY_RECORD) {
      const id = b.readUInt32BE(off);
      keys.push({
        id, messages: Number(b.readBigUInt64BE(off + 4)), createdAt: Number(b.readBigUInt64BE(off + 12)),
        material: Buffer.from(b.subarray(off + 20, off + 20 + AES_KEY_BYTES)), source: encodeKeySource({ kind: 'keyset', keyId: id }),
      });
    }
    if (!keys.some((k) => k.id === primary)) throw new InvalidCiphertextError();
    return new Keyset(keys, primary, options);
  }
}

/** The keyset's own envelope always carries a purpose entry, so it cannot pass for user data. */
function keysetContext(context: EncryptionContext | undefined): { context: EncryptionContext } {
  return { context: { ...context, 'keyward:purpose': 'keyset' } };
}

function noop(): void {}
