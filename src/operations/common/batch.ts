import { defineOperation, type AnyCallerOperation, type CallerOperation, type ItemOutcome } from '../context.js';
import { invalid, type Input } from './input.js';

/** Most items one batch request may carry. */
export const MAX_BATCH_ITEMS = 1000;

/**
 * The `Items` of a batch request, each completed with the batch-level values of `shared` fields
 * (such as KeyId) that it does not set itself. Items are validated one by one by their operation.
 */
function readItems(input: Input, shared: readonly string[]): Record<string, unknown>[] {
  const items = input.objects('Items', { min: 1, max: MAX_BATCH_ITEMS });
  if (items === undefined) throw invalid('Items', 'Member must not be null');
  const defaults: Record<string, unknown> = {};
  for (const field of shared) {
    const v = input.string(field, { min: 1, max: 2048 });
    if (v !== undefined) defaults[field] = v;
  }
  const fill = Object.entries(defaults);
  return items.map((item) => {
    const out: Record<string, unknown> = { ...item };
    for (const [field, value] of fill) if (out[field] === undefined || out[field] === null) out[field] = value;
    return out;
  });
}

/** One item of a batch response: the operation's result, or `Error` with the registry code. */
function itemResult(outcome: ItemOutcome): unknown {
  return outcome.ok ? outcome.result : { Error: { Code: outcome.error.code, Message: outcome.error.message } };
}

/**
 * A Keyward batch operation of `item`: up to 1,000 items (batch-level values of `shared` fields
 * fill the items that lack them), each authorised, run and audited as its own request through
 * ctx.subrequest, answered in order.
 */
export function defineBatch(name: string, item: AnyCallerOperation, shared: readonly string[]): CallerOperation<{ items: Record<string, unknown>[] }, { Results: unknown[] }> {
  return defineOperation({
    name,
    namespace: 'Keyward',
    plane: item.plane,
    parse: (input) => ({ items: readItems(input, shared) }),
    async run(ctx, req) {
      const outcomes = await Promise.all(req.items.map((body, i) => ctx.subrequest(item, body, i)));
      return { Results: outcomes.map(itemResult) };
    },
  });
}
