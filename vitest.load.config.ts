import { defineConfig } from "vitest/config"

/**
 * `npm run test:load`: bursts and floods from servers in other processes, with the connector run
 * as users run it. Tens of seconds, so kept out of `npm test`.
 */
export default defineConfig({
  test: {
    include: ["test/load/**/*.load.test.ts"],
    testTimeout: 120_000,
    fileParallelism: false
  }
})
