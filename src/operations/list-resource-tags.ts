import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { tagList } from './common/tags.js';
import { defineOperation } from './context.js';

export const listResourceTags = defineOperation({
  name: 'ListResourceTags',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input), ...readPage(input, 50, 50) }),
  async run(ctx, req) {
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    const scope = `ListResourceTags/${key.keyId}`;
    const after = decodeMarker(scope, req.marker);
    const all = tagList(key.tags).filter((t) => after === undefined || t.TagKey > after);
    const page = all.slice(0, req.limit);
    const last = page[page.length - 1];
    return pageResult('Tags', page, scope, all.length > req.limit && last ? last.TagKey : undefined);
  },
});
