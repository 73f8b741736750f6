import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Says how a test process died (exit code, signal), which vitest itself does not.
    globalSetup: ['test/setup/report-deaths.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Type tests (expectTypeOf, @ts-expect-error) are checked by the compiler, reported as tests.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
