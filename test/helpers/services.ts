import { existsSync } from 'node:fs';

/**
 * Tests that need a tool or service from this machine (the AWS CLI, PostgreSQL, SoftHSM) run for
 * real. Without CI they may be skipped when it is missing; with CI=true a missing one is a failure.
 */
export function requireTool(path: string, what: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI) throw new Error(`${what} is required in CI but ${path} is missing (.ci/run installs it)`);
  return false;
}
