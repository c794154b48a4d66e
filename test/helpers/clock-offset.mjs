// Test-only: moves the wall clock of a `keyward` process that a test starts, so that deletion
// windows and rotation periods can end on several separate processes at once (the in-process
// servers use testClock() in server.ts instead). Loaded with `node --import` (see clockOffsetEnv
// in process.ts); it reads the offset in milliseconds from the file KEYWARD_TEST_CLOCK_FILE names,
// again every 50 ms, so a test moves every process's clock by rewriting that one file.
//
// Nothing in src/ reads this: it lives in test/, which the package does not ship, and takes effect
// only in a process started with this file as a preload. A production server cannot turn it on.
import { readFileSync } from 'node:fs';

const file = process.env.KEYWARD_TEST_CLOCK_FILE;
if (file) {
  const RealDate = Date;
  let offset = 0;
  const read = () => {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(n)) offset = n;
    } catch {
      // the file is written by the test; until then the clock is real
    }
  };
  read();
  setInterval(read, 50).unref();
  const now = () => RealDate.now() + offset;
  // every `new Date()` and `Date.now()` (the server's clock, SigV4 checks, audit times) moves;
  // timers and cache TTLs run on the monotonic clock and do not
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args, newTarget) => Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget),
    apply: () => new RealDate(now()).toString(),
    get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver)),
  });
}
