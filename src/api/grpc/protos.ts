import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/**
 * The .proto files are the contract: they ship in the package's `proto/` folder and are loaded at
 * start with @grpc/proto-loader (no generated code to keep in step; see docs/design.md).
 */
export const PROTO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../proto');

/** The standard health-checking protocol, as the gRPC project ships it. */
const HEALTH_ROOT = resolve(healthProtoPath, '../../..');
export const HEALTH_PROTO = 'health/v1/health.proto';

/**
 * Field names as written in the protos (snake_case), 64-bit integers as numbers (every count
 * Keyward sends is far below 2^53), enums as their names, bytes as Buffers, absent fields absent.
 */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, bytes: Buffer, defaults: false, oneofs: true };

/** Loads protos from proto/ (and the health protocol); the definition also feeds server reflection. */
export function loadProtos(files: readonly string[]): PackageDefinition {
  return loadSync([...files], { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT, HEALTH_ROOT] });
}
