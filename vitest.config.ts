import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // two cores here: more workers only fight over them
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
