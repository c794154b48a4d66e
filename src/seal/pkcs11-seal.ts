import { createRequire } from 'node:module';
import type pkcs11Types from 'pkcs11js';

// loaded on first use: only an HSM-sealed node loads the native PKCS#11 binding
const load = createRequire(import.meta.url);
let binding: typeof pkcs11Types | undefined;
function pkcs11(): typeof pkcs11Types {
  return (binding ??= load('pkcs11js') as typeof pkcs11Types);
}
import { randomBytes } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import type { AutoSealWrapper } from './auto-seal.js';

export interface Pkcs11Options {
  /** Path of the PKCS#11 module (for SoftHSM2: /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string;
  /** Token label or slot id: one of them picks the token. */
  readonly tokenLabel?: string;
  readonly slot?: number;
  readonly pin: string;
  /** Label of the AES-256 key that wraps the root key. */
  readonly keyLabel: string;
  /** At init only: create the key (non-extractable, sensitive) when the token has none by that label. */
  readonly generateKey?: boolean;
}

/** AAD binding the HSM-wrapped root key to its purpose. */
const AAD = Buffer.from('keyward/seal/pkcs11/root-key');
const IV_BYTES = 12;

type Session = { readonly lib: pkcs11Types.PKCS11; readonly session: pkcs11Types.Handle };

function unavailable(message: string, cause?: unknown): KeywardError {
  return new KeywardError('SealUnavailableException', message, cause === undefined ? undefined : { cause });
}

/**
 * The root key wrapped with AES-256-GCM by a key that never leaves the HSM. Every call opens the
 * module, logs in, acts and finalises: wraps are rare, and holding no session survives HSM restarts.
 */
export class Pkcs11Seal implements AutoSealWrapper {
  readonly type = 'pkcs11' as const;

  constructor(private readonly options: Pkcs11Options) {}

  describe(): Record<string, string> {
    return { keyLabel: this.options.keyLabel };
  }

  async wrap(rootKey: Buffer): Promise<string> {
    return this.withSession(({ lib, session }) => {
      const key = this.findKey(lib, session) ?? (this.options.generateKey ? this.generateKey(lib, session) : undefined);
      if (key === undefined) throw this.missingKey();
      const iv = randomBytes(IV_BYTES);
      try {
        lib.C_EncryptInit(session, gcm(iv), key);
        const out = lib.C_Encrypt(session, rootKey, Buffer.alloc(rootKey.length + 32));
        return Buffer.concat([iv, out]).toString('base64');
      } catch (e) {
        throw unavailable(`The HSM refused to wrap with key "${this.options.keyLabel}": ${pkcs11Reason(e)}.`, e);
      }
    });
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    const bytes = Buffer.from(wrapped, 'base64');
    return this.withSession(({ lib, session }) => {
      const key = this.findKey(lib, session);
      if (key === undefined) throw this.missingKey();
      try {
        lib.C_DecryptInit(session, gcm(bytes.subarray(0, IV_BYTES)), key);
        return Buffer.from(lib.C_Decrypt(session, bytes.subarray(IV_BYTES), Buffer.alloc(bytes.length)));
      } catch (e) {
        throw new KeywardError('UnsealFailedException', `The HSM key "${this.options.keyLabel}" does not open the root key (is it another key with the same label?): ${pkcs11Reason(e)}.`);
      }
    });
  }

  private missingKey(): KeywardError {
    return unavailable(`The HSM token has no AES key labelled "${this.options.keyLabel}" (pkcs11KeyLabel); Keyward stays sealed.`);
  }

  private withSession<T>(fn: (s: Session) => T): T {
    const lib = new (pkcs11().PKCS11)();
    try {
      lib.load(this.options.module);
    } catch (e) {
      throw unavailable(`Cannot load the PKCS#11 module ${this.options.module}: ${(e as Error).message}.`, e);
    }
    try {
      lib.C_Initialize();
    } catch (e) {
      if ((e as { code?: number }).code !== pkcs11().CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        lib.close();
        throw unavailable(`The PKCS#11 module ${this.options.module} failed to initialise: ${pkcs11Reason(e)}.`, e);
      }
    }
    try {
      const slot = this.findSlot(lib);
      const session = lib.C_OpenSession(slot, pkcs11().CKF_SERIAL_SESSION | pkcs11().CKF_RW_SESSION);
      try {
        lib.C_Login(session, pkcs11().CKU_USER, this.options.pin);
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (code === pkcs11().CKR_PIN_INCORRECT) throw unavailable('The HSM rejected the PIN (CKR_PIN_INCORRECT); check KEYWARD_PKCS11_PIN or pkcs11PinFile. Keyward stays sealed.');
        if (code !== pkcs11().CKR_USER_ALREADY_LOGGED_IN) throw unavailable(`The HSM login failed: ${pkcs11Reason(e)}.`, e);
      }
      try {
        return fn({ lib, session });
      } finally {
        try { lib.C_CloseSession(session); } catch { /* the session dies with C_Finalize anyway */ }
      }
    } finally {
      try { lib.C_Finalize(); } catch { /* already finalised */ }
      lib.close();
    }
  }

  private findSlot(lib: pkcs11Types.PKCS11): pkcs11Types.Handle {
    const slots = lib.C_GetSlotList(true);
    if (this.options.slot !== undefined) {
      const wanted = this.options.slot;
      const slot = slots.find((s) => s.readUIntLE(0, Math.min(s.length, 6)) === wanted);
      if (slot === undefined) throw unavailable(`The PKCS#11 module has no token in slot ${wanted}.`);
      return slot;
    }
    const label = this.options.tokenLabel;
    for (const s of slots) {
      if (label === undefined || lib.C_GetTokenInfo(s).label.trim() === label) return s;
    }
    throw unavailable(label === undefined ? 'The PKCS#11 module has no token.' : `The PKCS#11 module has no token labelled "${label}" (pkcs11TokenLabel).`);
  }

  private findKey(lib: pkcs11Types.PKCS11, session: pkcs11Types.Handle): pkcs11Types.Handle | undefined {
    lib.C_FindObjectsInit(session, [
      { type: pkcs11().CKA_CLASS, value: pkcs11().CKO_SECRET_KEY },
      { type: pkcs11().CKA_KEY_TYPE, value: pkcs11().CKK_AES },
      { type: pkcs11().CKA_LABEL, value: this.options.keyLabel },
    ]);
    try {
      const found = lib.C_FindObjects(session, 2);
      if (found.length > 1) throw unavailable(`The HSM token has several AES keys labelled "${this.options.keyLabel}"; labels must be unique.`);
      return found[0];
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  }

  private generateKey(lib: pkcs11Types.PKCS11, session: pkcs11Types.Handle): pkcs11Types.Handle {
    return lib.C_GenerateKey(session, { mechanism: pkcs11().CKM_AES_KEY_GEN }, [
      { type: pkcs11().CKA_CLASS, value: pkcs11().CKO_SECRET_KEY },
      { type: pkcs11().CKA_KEY_TYPE, value: pkcs11().CKK_AES },
      { type: pkcs11().CKA_VALUE_LEN, value: 32 },
      { type: pkcs11().CKA_LABEL, value: this.options.keyLabel },
      { type: pkcs11().CKA_TOKEN, value: true },
      { type: pkcs11().CKA_PRIVATE, value: true },
      { type: pkcs11().CKA_SENSITIVE, value: true },
      { type: pkcs11().CKA_EXTRACTABLE, value: false },
      { type: pkcs11().CKA_ENCRYPT, value: true },
      { type: pkcs11().CKA_DECRYPT, value: true },
    ]);
  }
}

function gcm(iv: Buffer): pkcs11Types.Mechanism {
  return { mechanism: pkcs11().CKM_AES_GCM, parameter: { type: pkcs11().CK_PARAMS_GCM, iv, ivBits: IV_BYTES * 8, aad: AAD, tagBits: 128 } as pkcs11Types.GcmParams };
}

function pkcs11Reason(e: unknown): string {
  return (e as Error).message.split('\n')[0] ?? 'unknown PKCS#11 error';
}
