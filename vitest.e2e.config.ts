import { defineConfig } from "vitest/config"

/**
 * `npm run test:e2e`: the plugin inside a real OpenClaw gateway (built first by `pretest:e2e`).
 * Slow (the gateway takes ~15 s to start), so it is kept out of `npm test`.
 */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false
  }
})
