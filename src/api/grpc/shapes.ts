import type { PackageDefinition } from '@grpc/proto-loader';

/**
 * Keyward's own protos mirror the AWS shapes with snake_case names (key_id <-> KeyId). This
 * converts between the two, guided by the message descriptors, so that map keys (an encryption
 * context's names) are never renamed and fields a proto does not declare are never sent.
 */
interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

interface MessageDescriptor {
  readonly name: string;
  readonly field: readonly FieldDescriptor[];
  readonly nestedType: readonly MessageDescriptor[];
  readonly options?: { readonly mapEntry?: boolean } | null;
}

interface FieldShape {
  readonly wire: string;
  readonly aws: string;
  readonly repeated: boolean;
  /** The message type of a message field, a list of messages, or a map's values. */
  readonly message: (() => MessageShape) | undefined;
  readonly map: boolean;
}

interface MessageShape {
  readonly byWire: ReadonlyMap<string, FieldShape>;
  /** A result's own names (KeyId, keyId) -> the field, null for none; filled as results name them. */
  readonly byResultName: Map<string, FieldShape | null>;
}

const snakeNames = new Map<string, string>();

/** `KeyId` / `keyId` / `AWSAccountId` -> `key_id` / `key_id` / `aws_account_id`. */
export function snakeCase(name: string): string {
  let out = snakeNames.get(name);
  if (out === undefined) {
    out = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toLowerCase();
    if (snakeNames.size < 10_000) snakeNames.set(name, out);
  }
  return out;
}

/** `key_id` -> `KeyId`. */
export function pascalCase(name: string): string {
  return name.split('_').map((w) => (w === '' ? '' : w[0]!.toUpperCase() + w.slice(1))).join('');
}

export class MessageShapes {
  private readonly shapes = new Map<string, MessageShape>();

  constructor(private readonly definition: PackageDefinition) {}

  /** A request message (snake_case) as an operation's input (AWS names). */
  toInput(typeName: string, message: unknown): Record<string, unknown> {
    return this.inbound(this.shape(typeName), message);
  }

  /** An operation's result (AWS names, PascalCase or camelCase) as a message of `typeName`. */
  toMessage(typeName: string, result: unknown): Record<string, unknown> {
    return this.outbound(this.shape(typeName), result);
  }

  // for...in over own keys and one converter per direction: a batch converts its 1,000 items here
  private readonly inboundOf = (s: MessageShape, m: unknown): Record<string, unknown> => this.inbound(s, m);
  private readonly outboundOf = (s: MessageShape, r: unknown): Record<string, unknown> => this.outbound(s, r);

  private inbound(shape: MessageShape, message: unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (message === null || typeof message !== 'object') return out;
    const m = message as Record<string, unknown>;
    for (const k in m) {
      if (!Object.hasOwn(m, k)) continue;
      const v = m[k];
      const f = shape.byWire.get(k);
      if (f === undefined || v === undefined || v === null) continue; // oneof markers, unknown fields
      out[f.aws] = f.message === undefined ? v : convert(f, v, this.inboundOf);
    }
    return out;
  }

  private outbound(shape: MessageShape, result: unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (result === null || typeof result !== 'object') return out;
    const r = result as Record<string, unknown>;
    for (const k in r) {
      if (!Object.hasOwn(r, k)) continue;
      const v = r[k];
      const f = fieldForResultName(shape, k);
      if (f === null || v === undefined || v === null) continue;
      out[f.wire] = f.message === undefined ? v : convert(f, v, this.outboundOf);
    }
    return out;
  }

  private shape(typeName: string): MessageShape {
    let shape = this.shapes.get(typeName);
    if (shape === undefined) {
      const entry = this.definition[typeName] as { type?: MessageDescriptor } | undefined;
      if (entry?.type === undefined) throw new Error(`no message type ${typeName} in the loaded protos`);
      shape = this.compile(entry.type, typeName);
      this.shapes.set(typeName, shape);
    }
    return shape;
  }

  private compile(d: MessageDescriptor, fullName: string): MessageShape {
    const pkg = fullName.slice(0, fullName.lastIndexOf('.'));
    const byWire = new Map<string, FieldShape>();
    for (const f of d.field) {
      const nested = d.nestedType.find((n) => n.name === f.typeName);
      const isMap = nested?.options?.mapEntry === true;
      let message: (() => MessageShape) | undefined;
      if (isMap) {
        const value = nested!.field.find((x) => x.name === 'value');
        if (value?.type === 'TYPE_MESSAGE') message = () => this.shape(qualify(value.typeName, pkg));
      } else if (f.type === 'TYPE_MESSAGE') {
        message = () => this.shape(nested !== undefined ? `${fullName}.${nested.name}` : qualify(f.typeName, pkg));
      }
      byWire.set(f.name, { wire: f.name, aws: pascalCase(f.name), repeated: f.label === 'LABEL_REPEATED' && !isMap, map: isMap, message });
    }
    return { byWire, byResultName: new Map() };
  }
}

/** The field a result's property names (by its snake_case form), remembered per shape. */
function fieldForResultName(shape: MessageShape, name: string): FieldShape | null {
  let f = shape.byResultName.get(name);
  if (f === undefined) {
    f = shape.byWire.get(snakeCase(name)) ?? null;
    // results name a closed set of properties (operations' code); bounded all the same
    if (shape.byResultName.size < 1_000) shape.byResultName.set(name, f);
  }
  return f;
}

function qualify(typeName: string, pkg: string): string {
  return typeName.startsWith('.') ? typeName.slice(1) : typeName.includes('.') ? typeName : `${pkg}.${typeName}`;
}

function convert(f: FieldShape, v: unknown, nested: (shape: MessageShape, value: unknown) => Record<string, unknown>): unknown {
  const message = f.message;
  if (message === undefined) return v;
  if (f.map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = nested(message(), x);
    return out;
  }
  if (f.repeated) {
    if (!Array.isArray(v)) return [];
    const shape = message();
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = nested(shape, v[i]);
    return out;
  }
  return nested(message(), v);
}
