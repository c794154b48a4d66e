import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

/** The `hmac-sha256:` digest the audit log records for a value, to find it in the records. */
export const auditHash = defineOperation({
  name: 'AuditHash',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ input: input.requiredString('Input', { min: 0, max: 65536 }) }),
  async run(ctx, req) {
    const hash = ctx.services.audit.digest(req.input);
    if (hash === undefined) throw new KeywardError('SealedException', 'Keyward is sealed.');
    return { Hash: hash };
  },
});
