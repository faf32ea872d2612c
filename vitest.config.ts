import { defineConfig } from 'vitest/config';

// Root integration tests load real BPF programs: they share the kernel and must not run in parallel.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
