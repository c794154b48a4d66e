/**
 * The one registry of error codes. AWS exception names where the AWS KMS protocol has one.
 * docs/errors.md is kept in step with this table by test/unit/errors/registry.test.ts.
 */
export type GrpcStatusName =
  | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'PERMISSION_DENIED' | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION' | 'ABORTED' | 'UNIMPLEMENTED' | 'INTERNAL' | 'UNAVAILABLE' | 'DATA_LOSS'
  | 'UNAUTHENTICATED' | 'DEADLINE_EXCEEDED';

export interface ErrorCodeSpec {
  readonly http: number;
  readonly grpc: GrpcStatusName;
  /** Whether the cause lies with the caller (4xx) or with Keyward or its dependencies. */
  readonly fault: 'client' | 'server';
  readonly meaning: string;
}

export const ERROR_CODES = {
  ValidationException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'A request field is missing, malformed or out of range; the message names the field.' },
  SerializationException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The request body is not valid JSON (or not a JSON object), or a gRPC request is not a valid protobuf message of its type.' },
  UnknownOperationException: { http: 400, grpc: 'UNIMPLEMENTED', fault: 'client', meaning: 'The X-Amz-Target (or the gRPC method) names no operation Keyward knows.' },
  UnsupportedOperationException: { http: 400, grpc: 'UNIMPLEMENTED', fault: 'client', meaning: 'A known AWS feature or parameter value that Keyward does not support.' },
  NotFoundException: { http: 400, grpc: 'NOT_FOUND', fault: 'client', meaning: 'The key, alias, principal or tenant does not exist (or is not visible to the caller).' },
  AlreadyExistsException: { http: 400, grpc: 'ALREADY_EXISTS', fault: 'client', meaning: 'An alias, principal or tenant with that name already exists.' },
  DisabledException: { http: 400, grpc: 'FAILED_PRECONDITION', fault: 'client', meaning: 'The key is disabled, or the caller\'s tenant is suspended (the message carries the reason).' },
  KMSInvalidStateException: { http: 400, grpc: 'FAILED_PRECONDITION', fault: 'client', meaning: 'The key, version or tenant is in a state that does not allow the operation (for example pending deletion; the message names the state and the deletion date).' },
  InvalidCiphertextException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The ciphertext cannot be decrypted: malformed, tampered, wrong encryption context, unknown or destroyed key version. One message for all (no oracle).' },
  IncorrectKeyException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The KeyId given with Decrypt or ReEncrypt is not the key that made the ciphertext.' },
  InvalidKeyUsageException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The key cannot be used for this operation or algorithm.' },
  KMSInvalidSignatureException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'Verify: the signature is not valid for the message, key and signing algorithm (a malformed signature too).' },
  KMSInvalidMacException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'VerifyMac: the MAC is not valid for the message, key and MAC algorithm.' },
  InvalidImportTokenException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'ImportKeyMaterial: the import token is malformed, unknown, or was issued for another key.' },
  ExpiredImportTokenException: { http: 400, grpc: 'FAILED_PRECONDITION', fault: 'client', meaning: 'ImportKeyMaterial: the import token (and its wrapping key) expired; call GetParametersForImport again.' },
  IncorrectKeyMaterialException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'ImportKeyMaterial: the key material is not valid for the key spec, or not the material previously imported into the key.' },
  MalformedPolicyDocumentException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The key policy is not valid JSON, uses the policy language outside the subset Keyward supports (docs/policies.md), or would lock the caller out of the key (the lockout safety check).' },
  InvalidGrantTokenException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'A grant token is malformed or not one Keyward issued.' },
  InvalidGrantIdException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'A GrantId is malformed, or names no grant of the key.' },
  InvalidAliasNameException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The alias name is malformed or reserved.' },
  InvalidArnException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'An ARN is malformed or names another region or account.' },
  InvalidMarkerException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'The pagination Marker is not one Keyward issued.' },
  TagException: { http: 400, grpc: 'INVALID_ARGUMENT', fault: 'client', meaning: 'A tag key or value is malformed or reserved.' },
  LimitExceededException: { http: 400, grpc: 'RESOURCE_EXHAUSTED', fault: 'client', meaning: 'A configured limit (tags per key, aliases, a tenant\'s MaxKeys or MaxPrincipals) would be exceeded.' },
  DryRunOperationException: { http: 412, grpc: 'FAILED_PRECONDITION', fault: 'client', meaning: 'DryRun was set and the request would have succeeded.' },
  AccessDeniedException: { http: 400, grpc: 'PERMISSION_DENIED', fault: 'client', meaning: 'The authenticated principal may not perform this operation.' },
  MissingAuthenticationTokenException: { http: 403, grpc: 'UNAUTHENTICATED', fault: 'client', meaning: 'The request carries no SigV4 signature and no bearer token (and its listener is bound to no principal).' },
  IncompleteSignatureException: { http: 400, grpc: 'UNAUTHENTICATED', fault: 'client', meaning: 'The SigV4 Authorization header is malformed or lacks a required part.' },
  InvalidSignatureException: { http: 400, grpc: 'UNAUTHENTICATED', fault: 'client', meaning: 'The SigV4 signature does not match, or the request date is outside the five-minute window.' },
  UnrecognizedClientException: { http: 400, grpc: 'UNAUTHENTICATED', fault: 'client', meaning: 'The access key id or bearer token is unknown or revoked.' },
  ThrottlingException: { http: 400, grpc: 'RESOURCE_EXHAUSTED', fault: 'client', meaning: 'The caller, or its tenant as a whole, exceeded its request rate.' },
  RequestEntityTooLargeException: { http: 413, grpc: 'RESOURCE_EXHAUSTED', fault: 'client', meaning: 'The request body (or gRPC message) exceeds the configured limit.' },
  RequestHeaderFieldsTooLargeException: { http: 431, grpc: 'RESOURCE_EXHAUSTED', fault: 'client', meaning: 'The HTTP request headers exceed what the server accepts (16 KiB in all); the connection is closed.' },
  RequestTimeoutException: { http: 408, grpc: 'DEADLINE_EXCEEDED', fault: 'client', meaning: 'The HTTP request (its headers, or all of it) did not arrive within headersTimeoutMs / requestTimeoutMs; the connection is closed.' },
  ConflictException: { http: 409, grpc: 'ABORTED', fault: 'client', meaning: 'A concurrent change to the same resource won; retry the request.' },
  NotInitializedException: { http: 503, grpc: 'FAILED_PRECONDITION', fault: 'server', meaning: 'Keyward has not been initialised yet (keyward init or POST /v1/sys/init).' },
  AlreadyInitializedException: { http: 400, grpc: 'ALREADY_EXISTS', fault: 'client', meaning: 'Init was called on an installation that is already initialised.' },
  SealedException: { http: 503, grpc: 'UNAVAILABLE', fault: 'server', meaning: 'Keyward is sealed: no key operation is possible until it is unsealed.' },
  UnsealFailedException: { http: 400, grpc: 'PERMISSION_DENIED', fault: 'client', meaning: 'The passphrase (or share, or unseal key) does not unlock the root key.' },
  SealUnavailableException: { http: 503, grpc: 'UNAVAILABLE', fault: 'server', meaning: 'The seal cannot be used: the HSM module, token, PIN or key, the outer KMS of a transit seal, or the static key is missing, unreachable or refused; Keyward stays sealed and nothing was changed.' },
  IntegrityException: { http: 500, grpc: 'DATA_LOSS', fault: 'server', meaning: 'A stored record failed its integrity check (edited, moved or swapped in the store); it was not used.' },
  DependencyTimeoutException: { http: 503, grpc: 'UNAVAILABLE', fault: 'server', meaning: 'The store (or another dependency) is unreachable or timed out; the request was not applied.' },
  AuditUnavailableException: { http: 503, grpc: 'UNAVAILABLE', fault: 'server', meaning: 'The audit log could not durably record the request (store read-only, full or unreachable), so the request was refused (fail closed).' },
  KMSInternalException: { http: 500, grpc: 'INTERNAL', fault: 'server', meaning: 'An unexpected internal error; the message carries a request id and the detail is in the log.' },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(name: string): name is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, name);
}
