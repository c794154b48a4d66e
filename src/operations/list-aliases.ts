import { aliasArn } from '../keyring/index.js';
import { epochSeconds } from './common/key-metadata.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { KEY_ID_RULE, resolveKeyNoAlias } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const listAliases = defineOperation({
  name: 'ListAliases',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: input.string('KeyId', KEY_ID_RULE), ...readPage(input, 100, 50) }),
  async run(ctx, req) {
    const { keyring } = ctx.services;
    const tenant = ctx.caller.tenant;
    const keyId = req.keyId === undefined ? undefined : (await resolveKeyNoAlias(ctx, 'KeyId', req.keyId, false)).keyId;
    const scope = `ListAliases/${keyId ?? '*'}`;
    const page = await keyring.aliases.list(tenant, decodeMarker(scope, req.marker), req.limit, keyId);
    const items = page.aliases.map((a) => ({
      AliasName: a.aliasName,
      AliasArn: aliasArn(keyring.region, tenant, a.aliasName),
      TargetKeyId: a.targetKeyId,
      CreationDate: epochSeconds(a.createdAt),
      LastUpdatedDate: epochSeconds(a.updatedAt),
    }));
    return pageResult('Aliases', items, scope, page.next);
  },
});
