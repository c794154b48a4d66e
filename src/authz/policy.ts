import { KeywardError } from '../errors/index.js';

/**
 * Key policies: the documented subset of the AWS policy language (docs/policies.md) parsed into
 * a checked form, and evaluated. Anything outside the subset is MalformedPolicyDocumentException
 * at PutKeyPolicy/CreateKey time, never half-applied later. Pure: no store, no clock.
 */

/** AWS's limit on a key policy document (characters). */
export const MAX_POLICY_CHARS = 32768;
export const POLICY_NAME = 'default';

/** Who a statement names. `account` is the account root (IAM delegation: the caller's role decides). */
export type PolicyPrincipal =
  | { readonly kind: 'any' }
  | { readonly kind: 'account'; readonly accountId: string }
  | { readonly kind: 'user'; readonly arn: string };

type StringOperator = 'StringEquals' | 'StringNotEquals' | 'StringEqualsIgnoreCase' | 'StringNotEqualsIgnoreCase' | 'StringLike' | 'StringNotLike';
type SetQualifier = 'ForAnyValue' | 'ForAllValues' | undefined;

export interface PolicyCondition {
  readonly operator: StringOperator | 'Null' | 'Bool';
  readonly qualifier: SetQualifier;
  /** Lower-cased condition key (`kms:encryptioncontext:<key>` keeps the context key's case folded too). */
  readonly key: string;
  readonly values: readonly string[];
}

export interface PolicyStatement {
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  readonly principals: readonly PolicyPrincipal[];
  /** Lower-cased action patterns without the `kms:` prefix (`*`, `decrypt`, `generate*`). */
  readonly actions: readonly string[];
  readonly conditions: readonly PolicyCondition[];
}

export interface KeyPolicy {
  readonly statements: readonly PolicyStatement[];
}

/** What a request brings to the evaluation. */
export interface PolicyRequest {
  /** KMS action name without prefix, as AWS spells it (`Decrypt`, `ReEncryptFrom`). */
  readonly action: string;
  readonly principalArn: string;
  readonly accountId: string;
  /** Whether the caller's role (its "IAM policy") allows the action: what an account-root statement delegates to. */
  readonly roleAllows: boolean;
  readonly encryptionContext?: Readonly<Record<string, string>>;
}

export type PolicyDecision = 'allow' | 'deny' | 'none';

/** Every KMS action a key policy may name: AWS's key-scoped actions and Keyward's own key operations. */
export const KMS_ACTIONS = [
  'CancelKeyDeletion', 'CreateAlias', 'CreateGrant', 'Decrypt', 'DeleteAlias', 'DeleteImportedKeyMaterial',
  'DeriveSharedSecret', 'DescribeKey', 'DisableKey', 'DisableKeyRotation', 'EnableKey', 'EnableKeyRotation',
  'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'GenerateRandom', 'GetKeyPolicy', 'GetKeyRotationStatus',
  'GetParametersForImport', 'GetPublicKey', 'ImportKeyMaterial', 'ListAliases', 'ListGrants', 'ListKeyPolicies',
  'ListKeyRotations', 'ListKeys', 'ListResourceTags', 'ListRetirableGrants', 'PutKeyPolicy', 'ReEncryptFrom',
  'ReEncryptTo', 'ReplicateKey', 'RetireGrant', 'RevokeGrant', 'RotateKeyOnDemand', 'ScheduleKeyDeletion', 'Sign',
  'TagResource', 'UntagResource', 'UpdateAlias', 'UpdateKeyDescription', 'UpdatePrimaryRegion', 'Verify', 'VerifyMac',
  'CreateKey',
  // Keyward's own key operations
  'ListKeyVersions', 'DisableKeyVersion', 'EnableKeyVersion', 'DestroyKeyVersion',
] as const;
const KNOWN_ACTIONS = new Set<string>(KMS_ACTIONS.map((a) => a.toLowerCase()));

const CONDITION_KEYS = new Set(['kms:encryptioncontextkeys', 'kms:calleraccount', 'kms:viaservice', 'aws:principalarn', 'kms:grantisforawsresource']);
const STRING_OPERATORS = new Set<string>(['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike']);
const ACCOUNT = /^\d{12}$/;
const ROOT_ARN = /^arn:aws:iam::(\d{12}):root$/;
const USER_ARN = /^arn:aws:iam::(\d{12}):user\/[\w+=,.@-]{1,64}$/;
const ACTION = /^kms:[A-Za-z*?]{1,128}$/;
const STATEMENT_MEMBERS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition']);

function malformed(message: string): KeywardError {
  return new KeywardError('MalformedPolicyDocumentException', message);
}

function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.length > 128 ? `${s.slice(0, 128)}...` : s;
}

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw malformed(`${what} must not be empty.`);
  return list.map((item) => {
    if (typeof item !== 'string') throw malformed(`${what} must be a string or a list of strings.`);
    return item;
  });
}

function parsePrincipal(v: unknown): PolicyPrincipal[] {
  if (v === '*') return [{ kind: 'any' }];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw malformed('Policy contains a statement with one or more invalid principals: Principal must be "*" or {"AWS": ...}.');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length !== 1 || entries[0]?.[0] !== 'AWS') {
    throw malformed('Policy contains a statement with one or more invalid principals: only AWS principals are supported (no Service, Federated or CanonicalUser).');
  }
  return strings(entries[0][1], 'Principal.AWS').map((p): PolicyPrincipal => {
    if (p === '*') return { kind: 'any' };
    if (ACCOUNT.test(p)) return { kind: 'account', accountId: p };
    const root = ROOT_ARN.exec(p);
    if (root) return { kind: 'account', accountId: root[1] ?? '' };
    if (USER_ARN.test(p)) return { kind: 'user', arn: p };
    throw malformed(`Policy contains a statement with one or more invalid principals: ${shown(p)} (supported: "*", an account id, arn:aws:iam::<account>:root, arn:aws:iam::<account>:user/<name>).`);
  });
}

function parseAction(a: string): string {
  if (a === '*' || a === 'kms:*') return '*';
  if (!ACTION.test(a)) throw malformed(`Policy contains an action outside KMS or with invalid characters: ${shown(a)}.`);
  const name = a.slice(4).toLowerCase();
  if (!/[*?]/.test(name) && !KNOWN_ACTIONS.has(name)) throw malformed(`Policy contains an unknown KMS action: ${shown(a)}.`);
  return name;
}

function parseConditions(v: unknown): PolicyCondition[] {
  if (v === undefined) return [];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw malformed('Condition must be an object of operators.');
  const out: PolicyCondition[] = [];
  for (const [op, block] of Object.entries(v as Record<string, unknown>)) {
    const [first, second] = op.split(':');
    const qualifier = second === undefined ? undefined : first;
    const operator = second ?? first ?? '';
    if (qualifier !== undefined && qualifier !== 'ForAnyValue' && qualifier !== 'ForAllValues') throw malformed(`Unsupported condition operator ${shown(op)}.`);
    if (!STRING_OPERATORS.has(operator) && operator !== 'Null' && operator !== 'Bool') throw malformed(`Unsupported condition operator ${shown(op)} (supported: ${[...STRING_OPERATORS, 'Null', 'Bool'].join(', ')}, with ForAnyValue: or ForAllValues:).`);
    if (qualifier !== undefined && !STRING_OPERATORS.has(operator)) throw malformed(`${shown(op)}: ForAnyValue and ForAllValues apply to string operators only.`);
    if (block === null || typeof block !== 'object' || Array.isArray(block)) throw malformed(`Condition ${shown(op)} must be an object of condition keys.`);
    const entries = Object.entries(block as Record<string, unknown>);
    if (entries.length === 0) throw malformed(`Condition ${shown(op)} names no condition key.`);
    for (const [rawKey, rawValues] of entries) {
      const key = rawKey.toLowerCase();
      if (!key.startsWith('kms:encryptioncontext:') && !CONDITION_KEYS.has(key)) throw malformed(`Unsupported condition key ${shown(rawKey)}.`);
      if (key === 'kms:encryptioncontext:') throw malformed('kms:EncryptionContext: needs a context key after the colon.');
      const values = strings(rawValues, `Condition ${op} ${rawKey}`);
      if ((operator === 'Null' || operator === 'Bool') && values.some((x) => x !== 'true' && x !== 'false')) throw malformed(`${operator} takes "true" or "false".`);
      out.push({ operator: operator as PolicyCondition['operator'], qualifier: qualifier as SetQualifier, key, values });
    }
  }
  return out;
}

function parseStatement(v: unknown, index: number): PolicyStatement {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw malformed(`Statement ${index + 1} must be an object.`);
  const s = v as Record<string, unknown>;
  for (const member of Object.keys(s)) {
    if (!STATEMENT_MEMBERS.has(member)) throw malformed(`Statement ${index + 1}: ${shown(member)} is not supported (NotPrincipal, NotAction and NotResource are outside the supported subset).`);
  }
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw malformed(`Statement ${index + 1}: Sid must be a string.`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`Statement ${index + 1}: Effect must be Allow or Deny.`);
  if (s.Principal === undefined) throw malformed(`Statement ${index + 1}: Principal is required in a key policy.`);
  if (s.Action === undefined) throw malformed(`Statement ${index + 1}: Action is required.`);
  if (s.Resource === undefined) throw malformed(`Statement ${index + 1}: Resource is required.`);
  if (strings(s.Resource, 'Resource').some((r) => r !== '*')) throw malformed(`Statement ${index + 1}: Resource must be "*" in a key policy (it always means this key).`);
  return {
    ...(typeof s.Sid === 'string' ? { sid: s.Sid } : {}),
    effect: s.Effect,
    principals: parsePrincipal(s.Principal),
    actions: strings(s.Action, 'Action').map(parseAction),
    conditions: parseConditions(s.Condition),
  };
}

/** Parses and checks a policy document; MalformedPolicyDocumentException names what is wrong. */
export function parsePolicy(text: string): KeyPolicy {
  if (text.length > MAX_POLICY_CHARS) throw malformed(`The policy is ${text.length} characters; the limit is ${MAX_POLICY_CHARS}.`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('The policy is not valid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw malformed('The policy must be a JSON object.');
  const d = doc as Record<string, unknown>;
  for (const member of Object.keys(d)) {
    if (member !== 'Version' && member !== 'Id' && member !== 'Statement') throw malformed(`The policy member ${shown(member)} is not supported.`);
  }
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw malformed('Version must be 2012-10-17 or 2008-10-17.');
  if (d.Id !== undefined && typeof d.Id !== 'string') throw malformed('Id must be a string.');
  if (d.Statement === undefined) throw malformed('The policy has no Statement.');
  const raw = Array.isArray(d.Statement) ? d.Statement : [d.Statement];
  if (raw.length === 0) throw malformed('The policy has no Statement.');
  return { statements: raw.map(parseStatement) };
}

/** The policy a key has until PutKeyPolicy: the account (its principals, as their roles allow) may do everything. */
export function defaultPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${accountId}:root` },
      Action: 'kms:*',
      Resource: '*',
    }],
  }, null, 2);
}

/** `*` and `?` wildcards, as IAM matches them. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  if (!/[*?]/.test(p)) return p === v;
  const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(v);
}

function actionMatches(patterns: readonly string[], action: string): boolean {
  const a = action.toLowerCase();
  return patterns.some((p) => p === '*' || wildcardMatch(p, a));
}

function principalMatches(principals: readonly PolicyPrincipal[], effect: 'Allow' | 'Deny', req: PolicyRequest): boolean {
  return principals.some((p) => {
    switch (p.kind) {
      case 'any': return true;
      case 'user': return p.arn === req.principalArn;
      // Allow: the account delegates to its principals' roles; Deny: the whole account is denied.
      case 'account': return p.accountId === req.accountId && (effect === 'Deny' || req.roleAllows);
    }
  });
}

/** The request's values for a condition key (empty: the key is absent). */
function valuesOf(key: string, req: PolicyRequest): { values: string[]; multi: boolean } {
  const context = req.encryptionContext ?? {};
  if (key.startsWith('kms:encryptioncontext:')) {
    const wanted = key.slice('kms:encryptioncontext:'.length);
    return { values: Object.entries(context).filter(([k]) => k.toLowerCase() === wanted).map(([, v]) => v), multi: false };
  }
  switch (key) {
    case 'kms:encryptioncontextkeys': return { values: Object.keys(context), multi: true };
    case 'kms:calleraccount': return { values: [req.accountId], multi: false };
    case 'aws:principalarn': return { values: [req.principalArn], multi: false };
    case 'kms:grantisforawsresource': return { values: ['false'], multi: false };
    default: return { values: [], multi: false }; // kms:ViaService: no AWS service calls Keyward
  }
}

function stringMatch(operator: StringOperator, pattern: string, value: string): boolean {
  switch (operator) {
    case 'StringEquals': case 'StringNotEquals': return pattern === value;
    case 'StringEqualsIgnoreCase': case 'StringNotEqualsIgnoreCase': return pattern.toLowerCase() === value.toLowerCase();
    case 'StringLike': case 'StringNotLike': return wildcardMatch(pattern, value);
  }
}

function conditionHolds(c: PolicyCondition, req: PolicyRequest): boolean {
  const { values, multi } = valuesOf(c.key, req);
  if (c.operator === 'Null') return (c.values[0] === 'true') === (values.length === 0);
  if (c.operator === 'Bool') return values.length > 0 && values.every((v) => c.values.includes(v));
  const op = c.operator;
  const negated = op === 'StringNotEquals' || op === 'StringNotEqualsIgnoreCase' || op === 'StringNotLike';
  const matchesAny = (v: string) => c.values.some((p) => stringMatch(op, p, v));
  const qualifier = c.qualifier ?? (multi ? 'ForAnyValue' : undefined);
  if (qualifier === 'ForAllValues') return values.every((v) => (negated ? !matchesAny(v) : matchesAny(v)));
  if (qualifier === 'ForAnyValue') return values.some((v) => (negated ? !matchesAny(v) : matchesAny(v)));
  if (values.length === 0) return negated;
  return values.every((v) => (negated ? !matchesAny(v) : matchesAny(v)));
}

/** Deny wins; then any Allow; otherwise nothing in the policy allows the request. */
export function evaluatePolicy(policy: KeyPolicy, req: PolicyRequest): PolicyDecision {
  let allowed = false;
  for (const s of policy.statements) {
    if (!actionMatches(s.actions, req.action)) continue;
    if (!principalMatches(s.principals, s.effect, req)) continue;
    if (!s.conditions.every((c) => conditionHolds(c, req))) continue;
    if (s.effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'none';
}
