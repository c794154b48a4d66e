import { join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_ROOT } from './protos.js';

/**
 * The hot response messages (Encrypt, Decrypt and their batches, on both service sets) are encoded
 * with protobufjs's compiled encoder straight from the message object. proto-loader's serialiser
 * first rebuilds every message with `fromObject` (a copy that coerces each field), which for a
 * batch answer of 1,000 items cost as much as the encoding itself. The adapter already builds
 * these messages with the proto's own types (strings, Buffers, nested messages), so the bytes are
 * the same (a unit test holds them equal to proto-loader's).
 */
const HOT_FILES = ['keyward/v1/kms.proto', 'minikms/v1/kms.proto'];
export const HOT_RESPONSES = [
  'keyward.v1.EncryptResponse', 'keyward.v1.DecryptResponse', 'keyward.v1.BatchEncryptResponse', 'keyward.v1.BatchDecryptResponse',
  'minikms.v1.EncryptResponse', 'minikms.v1.DecryptResponse', 'minikms.v1.BatchEncryptResponse', 'minikms.v1.BatchDecryptResponse',
] as const;

let encoders: ReadonlyMap<string, (message: unknown) => Buffer> | undefined;

/** The direct encoder of a hot response message type (full name), or undefined for the rest. */
export function directEncoder(typeName: string): ((message: unknown) => Buffer) | undefined {
  encoders ??= load();
  return encoders.get(typeName);
}

function load(): ReadonlyMap<string, (message: unknown) => Buffer> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync(HOT_FILES, { keepCase: true });
  root.resolveAll();
  const out = new Map<string, (message: unknown) => Buffer>();
  for (const name of HOT_RESPONSES) {
    const type = root.lookupType(name);
    // only messages whose fields need no coercion (no enums, no 64-bit integers, no numbers at all)
    if (!plain(type, new Set())) continue;
    out.set(name, (message) => {
      const bytes = type.encode(message as protobuf.Message).finish();
      return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }
  return out;
}

function plain(type: protobuf.Type, seen: Set<protobuf.Type>): boolean {
  if (seen.has(type)) return true;
  seen.add(type);
  return type.fieldsArray.every((f) => {
    if (f.resolvedType instanceof protobuf.Type) return !f.map && plain(f.resolvedType, seen);
    if (f.map) return f.type === 'string';
    return f.type === 'string' || f.type === 'bytes';
  });
}
