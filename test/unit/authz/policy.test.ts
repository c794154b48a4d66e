import { describe, expect, it } from 'vitest';
import { constraintsHold, constraintsWithin, evaluatePolicy, parsePolicy, wildcardMatch, type PolicyRequest } from '../../../src/authz/index.js';
import { isKeywardError } from '../../../src/errors/index.js';

const ACCOUNT = '111122223333';
const alice = `arn:aws:iam::${ACCOUNT}:user/alice`;
const base: PolicyRequest = { action: 'Decrypt', principalArn: alice, accountId: ACCOUNT, roleAllows: true };
const doc = (...statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const decide = (statements: unknown[], req: Partial<PolicyRequest> = {}) => evaluatePolicy(parsePolicy(doc(...statements)), { ...base, ...req });
const allow = (extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal: { AWS: alice }, Action: 'kms:Decrypt', Resource: '*', ...extra });

function malformed(text: string): string {
  try {
    parsePolicy(text);
  } catch (e) {
    if (isKeywardError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('key policy evaluation', () => {
  it('Deny wins over Allow; no matching statement is none', () => {
    expect(decide([allow()])).toBe('allow');
    expect(decide([allow(), { ...allow(), Effect: 'Deny' }])).toBe('deny');
    expect(decide([allow()], { action: 'Encrypt' })).toBe('none');
    expect(decide([allow()], { principalArn: `arn:aws:iam::${ACCOUNT}:user/bob` })).toBe('none');
  });

  it('the account root delegates to the role on Allow and covers the whole account on Deny', () => {
    const root = { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } };
    expect(decide([allow(root)], { roleAllows: true })).toBe('allow');
    expect(decide([allow(root)], { roleAllows: false })).toBe('none');
    expect(decide([allow(), { ...allow(root), Effect: 'Deny' }], { roleAllows: false })).toBe('deny');
    expect(decide([allow({ Principal: { AWS: '999988887777' } })])).toBe('none');
  });

  it('actions: kms:*, case-insensitive names, wildcards', () => {
    expect(decide([allow({ Action: 'kms:*' })], { action: 'ScheduleKeyDeletion' })).toBe('allow');
    expect(decide([allow({ Action: 'kms:DECRYPT' })])).toBe('allow');
    expect(decide([allow({ Action: ['kms:Generate*'] })], { action: 'GenerateDataKeyWithoutPlaintext' })).toBe('allow');
    expect(decide([allow({ Action: ['kms:Generate*'] })], { action: 'Decrypt' })).toBe('none');
    expect(decide([allow({ Action: 'kms:ReEncrypt*' })], { action: 'ReEncryptFrom' })).toBe('allow');
  });

  it('conditions: encryption context pairs and keys, set qualifiers, Null, negation on absent keys', () => {
    const cond = (c: unknown) => [allow({ Condition: c })];
    const ctx = { encryptionContext: { Dept: 'billing', app: 'web' } };
    expect(decide(cond({ StringEquals: { 'kms:EncryptionContext:dept': 'billing' } }), ctx)).toBe('allow');
    expect(decide(cond({ StringEquals: { 'kms:EncryptionContext:dept': ['hr', 'billing'] } }), ctx)).toBe('allow');
    expect(decide(cond({ StringEquals: { 'kms:EncryptionContext:dept': 'hr' } }), ctx)).toBe('none');
    expect(decide(cond({ StringLike: { 'kms:EncryptionContext:app': 'w*' } }), ctx)).toBe('allow');
    expect(decide(cond({ StringNotEquals: { 'kms:EncryptionContext:dept': 'hr' } }), {})).toBe('allow');
    expect(decide(cond({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Dept', 'app'] } }), ctx)).toBe('allow');
    expect(decide(cond({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Dept'] } }), ctx)).toBe('none');
    expect(decide(cond({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Dept'] } }), {})).toBe('allow');
    expect(decide(cond({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['app'] } }), ctx)).toBe('allow');
    expect(decide(cond({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['app'] } }), {})).toBe('none');
    expect(decide(cond({ Null: { 'kms:EncryptionContextKeys': 'false' } }), ctx)).toBe('allow');
    expect(decide(cond({ Null: { 'kms:EncryptionContextKeys': 'false' } }), {})).toBe('none');
    expect(decide(cond({ Null: { 'kms:ViaService': 'true' } }))).toBe('allow');
    expect(decide(cond({ StringEquals: { 'kms:CallerAccount': ACCOUNT, 'aws:PrincipalArn': alice } }))).toBe('allow');
    expect(decide(cond({ StringEquals: { 'kms:CallerAccount': '999988887777' } }))).toBe('none');
    expect(decide(cond({ Bool: { 'kms:GrantIsForAWSResource': 'false' } }))).toBe('allow');
  });

  it('anything outside the subset is MalformedPolicyDocumentException', () => {
    for (const text of [
      '', '[]', '{"Statement": []}', doc({ ...allow(), NotAction: 'kms:Encrypt' }), doc(allow({ Resource: 'arn:aws:kms:*' })),
      doc(allow({ Principal: { AWS: 'arn:aws:iam::111122223333:role/x' } })), doc(allow({ Action: 'kms:Frobnicate' })),
      doc(allow({ Condition: { 'StringEqualsIfExists': { 'kms:CallerAccount': ACCOUNT } } })), doc(allow({ Condition: { 'ForAllValues:Null': { 'kms:CallerAccount': 'true' } } })),
      doc(allow({ Condition: { Null: { 'kms:CallerAccount': 'maybe' } } })), JSON.stringify({ Version: '2099-01-01', Statement: [allow()] }),
      doc(allow({ Effect: 'allow' })), 'x'.repeat(32769),
    ]) expect(malformed(text), text.slice(0, 80)).toBe('MalformedPolicyDocumentException');
    expect(malformed(doc(allow({ Principal: '*', Action: ['kms:*Key*', 'kms:Decrypt'] })))).toBe('accepted');
  });

  it('wildcards and grant constraints', () => {
    expect(wildcardMatch('a*c?', 'abbbcd')).toBe(true);
    expect(wildcardMatch('a.c', 'abc')).toBe(false);
    expect(constraintsHold({ encryptionContextEquals: { a: '1' } }, { a: '1' })).toBe(true);
    expect(constraintsHold({ encryptionContextEquals: { a: '1' } }, { a: '1', b: '2' })).toBe(false);
    expect(constraintsHold({ encryptionContextSubset: { a: '1' } }, { a: '1', b: '2' })).toBe(true);
    expect(constraintsHold({ encryptionContextSubset: { a: '1' } }, {})).toBe(false);
    expect(constraintsWithin({ encryptionContextSubset: { a: '1', b: '2' } }, { encryptionContextSubset: { a: '1' } })).toBe(true);
    expect(constraintsWithin(undefined, { encryptionContextSubset: { a: '1' } })).toBe(false);
    expect(constraintsWithin({ encryptionContextSubset: { b: '2' } }, { encryptionContextSubset: { a: '1' } })).toBe(false);
  });
});
