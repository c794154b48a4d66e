import { addDays, requireNotPendingDeletion } from '../keyring/index.js';
import { epochSeconds } from './common/key-metadata.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const scheduleKeyDeletion = defineOperation({
  name: 'ScheduleKeyDeletion',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input), days: input.integer('PendingWindowInDays', { min: 7, max: 30 }) ?? 30 }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    const arn = keys.arn(tenant, key.keyId);
    const updated = await keys.update(tenant, key.keyId, (k, now) => {
      requireNotPendingDeletion(k, arn);
      return { ...k, keyState: 'PendingDeletion', deletionDate: addDays(now, req.days).toISOString(), pendingWindowInDays: req.days };
    });
    return {
      KeyId: arn,
      DeletionDate: epochSeconds(updated.deletionDate ?? ''),
      KeyState: 'PendingDeletion',
      PendingWindowInDays: req.days,
    };
  },
});
