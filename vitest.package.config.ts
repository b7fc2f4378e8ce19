import { defineConfig } from "vitest/config"

/**
 * `npm run test:package`: the package as a user receives it (`test/package/`). It runs `npm pack`,
 * which builds the package (`prepack`), type-checks a consumer with `tsc` and runs the bin and the
 * OpenClaw entry from the tarball in child processes, so it is kept out of `npm test`.
 */
export default defineConfig({
  test: {
    include: ["test/package/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false
  }
})
