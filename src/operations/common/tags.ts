import { KeywardError, quote } from '../../errors/index.js';
import { invalid, type Input } from './input.js';

export const MAX_TAGS_PER_KEY = 50;

/** Reads [{TagKey, TagValue}] and checks AWS's rules (lengths, reserved `aws:` prefix). */
export function readTags(input: Input, field: string): Record<string, string> | undefined {
  const list = input.objectList(field, { max: MAX_TAGS_PER_KEY });
  if (list === undefined) return undefined;
  const tags: Record<string, string> = {};
  list.forEach((item, i) => {
    const key = item.requiredString('TagKey', { min: 1, max: 128 });
    const value = item.string('TagValue', { max: 256 });
    if (value === undefined) throw invalid(`${field}.${i + 1}.member.TagValue`, 'Member must not be null');
    checkTagKey(key);
    if (Object.prototype.hasOwnProperty.call(tags, key)) throw new KeywardError('TagException', `Duplicate tag key ${quote(key)}: each tag key may appear once in a request.`);
    Object.defineProperty(tags, key, { value, enumerable: true, writable: true, configurable: true });
  });
  return tags;
}

export function checkTagKey(key: string): void {
  if (key.toLowerCase().startsWith('aws:')) throw new KeywardError('TagException', `Tag key ${quote(key)} is reserved: keys beginning with aws: belong to AWS.`);
}

export function checkTagCount(tags: Readonly<Record<string, string>>): void {
  if (Object.keys(tags).length > MAX_TAGS_PER_KEY) {
    throw new KeywardError('LimitExceededException', `A key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  }
}

export function tagList(tags: Readonly<Record<string, string>>): Array<{ TagKey: string; TagValue: string }> {
  return Object.keys(tags).sort().map((k) => ({ TagKey: k, TagValue: tags[k] ?? '' }));
}
