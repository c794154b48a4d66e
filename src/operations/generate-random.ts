import { randomBytes } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { invalid } from './common/input.js';
import { defineOperation } from './context.js';

export const generateRandom = defineOperation({
  name: 'GenerateRandom',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => {
    const bytes = input.integer('NumberOfBytes', { min: 1, max: 1024 });
    if (bytes === undefined) throw invalid('NumberOfBytes', 'Member must not be null');
    if (input.has('CustomKeyStoreId')) throw new KeywardError('UnsupportedOperationException', 'Custom key stores are not supported.');
    return { bytes };
  },
  run: async (_ctx, req) => ({ Plaintext: randomBytes(req.bytes) }),
});
