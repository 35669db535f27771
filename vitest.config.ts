import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*/test/**/*.test.ts', 'plugins/*/test/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two files at once on the 2-core machines: the e2e suites mostly wait on their clusters,
    // and were written to hold under far heavier load (vitest's default here would be 1).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
