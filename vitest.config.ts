import { defineConfig } from 'vitest/config';

/**
 * End-to-end files: each starts gateways, worker processes, workerd, a browser or the CLI as a child
 * process, and together they take most of the suite's time. `npm test` runs both projects;
 * `npm run test:unit` is the fast inner loop, `npm run test:e2e` the rest.
 */
const E2E = ['test/pipeline/**/*.test.ts', 'test/runtime/**/*.test.ts', 'test/acceptance/**/*.test.ts', 'test/multi-gateway/**/*.test.ts', 'test/api/comparison-page.test.ts', 'src/cli/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default is one worker per core less one: a single worker on a 2-core machine. Most files
    // wait on child processes, sockets and a browser, so two workers overlap that waiting.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: E2E } },
      { extends: true, test: { name: 'e2e', include: E2E } },
    ],
  },
});
