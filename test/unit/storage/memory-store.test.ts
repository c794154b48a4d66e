import { MemoryStore } from '../../../src/storage/index.js';
import { storeConformance } from './conformance.js';

storeConformance('memory', { open: async () => new MemoryStore() });
