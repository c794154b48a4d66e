import { ERROR_CODES } from '../../../src/errors/index.js';

/** docs/errors.md as the registry implies it. */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, s]) => `| \`${code}\` | ${s.http} | ${s.grpc} | ${s.fault} | ${s.meaning} |`);
  return `# Errors

Every error Keyward returns has a code from one registry (\`src/errors/codes.ts\`). Over the AWS KMS
JSON protocol it arrives as \`{"__type": "<code>", "message": "..."}\` with the HTTP status below and
the header \`x-amzn-ErrorType\`; AWS SDKs surface it as an exception of that name. Match on the code,
never on the message. Codes are AWS's exception names wherever the AWS protocol has one.

Over gRPC the call ends with the gRPC status of the code's column below, a message that starts
with the code (\`NotFoundException: Key '...' does not exist\`) and the trailers
\`keyward-error-code\` (the code) and \`keyward-request-id\`. In a batch (\`BatchEncrypt\`,
\`BatchDecrypt\`) each failed item carries its own code and message, as it would alone.

Two rules shape the answers:

- **No oracle.** Every cryptographic failure of Decrypt and ReEncrypt (malformed blob, unknown
  version, another tenant's blob, wrong encryption context, disabled or destroyed version, bad tag)
  is the same \`InvalidCiphertextException\` with the same message. For a caller outside a key's
  tenant, "the key does not exist" and "you may not use it" are the same \`NotFoundException\`.
- **Fail closed, say little.** Internal errors answer a generic message carrying the request id
  (also in the \`x-amzn-RequestId\` header); the detail goes to the server's log, never to the caller.

| Code | HTTP | gRPC | Fault | Meaning |
|---|---|---|---|---|
${rows.join('\n')}

This file is generated from the registry (\`npm run docs:errors\`); a test keeps them in step.
`;
}
