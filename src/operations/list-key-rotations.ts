import { KeywardError } from '../errors/index.js';
import { epochSeconds } from './common/key-metadata.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { keyArnOf, readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const listKeyRotations = defineOperation({
  name: 'ListKeyRotations',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input), ...readPage(input, 1000, 100) }),
  async run(ctx, req) {
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    const arn = keyArnOf(ctx, key);
    // AWS: rotations exist only for symmetric encryption keys
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw new KeywardError('UnsupportedOperationException', `${arn} is a ${key.keySpec} key: only symmetric encryption keys have rotations.`);
    const scope = `ListKeyRotations/${key.keyId}`;
    const after = Number(decodeMarker(scope, req.marker) ?? 0);
    const rotations = key.versions.filter((v) => v.rotationType !== 'INITIAL' && v.version > after);
    const page = rotations.slice(0, req.limit);
    const last = page[page.length - 1];
    const items = page.map((v) => ({ KeyId: arn, RotationDate: epochSeconds(v.createdAt), RotationType: v.rotationType }));
    return pageResult('Rotations', items, scope, rotations.length > req.limit && last ? String(last.version) : undefined);
  },
});
