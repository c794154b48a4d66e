import { KeywardError } from '../../errors/index.js';
import { MAX_POLICY_CHARS, POLICY_NAME } from '../../authz/index.js';
import type { Input } from './input.js';

/** AWS: Policy is 1-32768 characters of printable text (tab, newline, carriage return included). */
const POLICY_PATTERN = /^[\u0009\u000A\u000D\u0020-\u00FF]+$/;

export function readPolicy(input: Input, required: true): string;
export function readPolicy(input: Input, required: false): string | undefined;
export function readPolicy(input: Input, required: boolean): string | undefined {
  const rule = { min: 1, max: MAX_POLICY_CHARS, pattern: POLICY_PATTERN, patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' } as const;
  return required ? input.requiredString('Policy', rule) : input.string('Policy', rule);
}

/** PolicyName: 1-128 word characters; the only policy a key has is `default`. */
export function readPolicyName(input: Input): string {
  const name = input.string('PolicyName', { min: 1, max: 128, pattern: /^[\w]+$/, patternText: '[\\w]+' }) ?? POLICY_NAME;
  if (name !== POLICY_NAME) throw new KeywardError('NotFoundException', `Policy ${name} does not exist; a key has one policy, named ${POLICY_NAME}.`);
  return name;
}
