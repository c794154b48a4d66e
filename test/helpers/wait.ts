import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` until it holds or `timeoutMs` passes; answers whether it held (assert on it). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return check();
}

/** Polls `fn` until `ok` accepts its value and returns it; throws naming `what` (and the last value) on timeout. */
export async function pollUntil<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}
