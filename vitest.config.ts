import { defineConfig } from "vitest/config"

/**
 * `npm test` runs both projects: `unit` (example tests, including real loopback sockets) and
 * `property` (fast-check). The real-OpenClaw end-to-end suite has its own config
 * (`vitest.e2e.config.ts`, `npm run test:e2e`).
 */
export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      exclude: ["src/cli.ts", "src/openclaw/index.ts"],
      thresholds: { lines: 80, functions: 85, branches: 75 }
    },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.property.test.ts", "test/e2e/**"]
        }
      },
      {
        extends: true,
        test: {
          name: "property",
          include: ["test/**/*.property.test.ts"]
        }
      }
    ]
  }
})
