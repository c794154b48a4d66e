import type { ItemOutcome } from '../context.js';
import { invalid, type Input } from './input.js';

/** Most items one batch request may carry. */
export const MAX_BATCH_ITEMS = 1000;

/**
 * The `Items` of a batch request, each completed with the batch-level values of `shared` fields
 * (such as KeyId) that it does not set itself. Items are validated one by one by their operation.
 */
export function readItems(input: Input, shared: readonly string[]): Record<string, unknown>[] {
  const items = input.objects('Items', { min: 1, max: MAX_BATCH_ITEMS });
  if (items === undefined) throw invalid('Items', 'Member must not be null');
  const defaults: Record<string, unknown> = {};
  for (const field of shared) {
    const v = input.string(field, { min: 1, max: 2048 });
    if (v !== undefined) defaults[field] = v;
  }
  return items.map((item) => {
    const out: Record<string, unknown> = { ...item };
    for (const [field, value] of Object.entries(defaults)) if (out[field] === undefined || out[field] === null) out[field] = value;
    return out;
  });
}

/** One item of a batch response: the operation's result, or `Error` with the registry code. */
export function itemResult(outcome: ItemOutcome): unknown {
  return outcome.ok ? outcome.result : { Error: { Code: outcome.error.code, Message: outcome.error.message } };
}
