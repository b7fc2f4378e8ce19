import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

/**
 * `npm test` runs both projects: `unit` (example tests, including real loopback sockets and the
 * CLI as child processes) and `property` (fast-check). Kept out of it, each with its own config
 * and script: the real-OpenClaw end-to-end suite (`vitest.e2e.config.ts`, `npm run test:e2e`), the
 * load tests (`vitest.load.config.ts`, `npm run test:load`) and the packed-package test, which
 * builds the package (`vitest.package.config.ts`, `npm run test:package`).
 *
 * Speed (issue 23):
 * - `isolate: false`: a worker runs file after file without reloading its modules, so Effect,
 *   `@effect/vitest`, `ws` and OpenClaw's plugin SDK are imported once per worker instead of once
 *   per file (importing them was most of the run). It is safe because these files keep no
 *   module-level state between them: they mock no module, stub no global, touch no prototype,
 *   restore the environment variables they set, close every server, socket and child process, and
 *   read metrics as the difference over their own run. A file that needs a fresh process belongs
 *   in a project with `isolate: true`.
 * - `maxWorkers`: at least two. Vitest's default is one fewer than the cores, which is one worker
 *   on a two-core machine; many of these tests wait on sockets and child processes, so a second
 *   worker uses the time the first spends waiting.
 * - `NODE_COMPILE_CACHE`: Node keeps the compiled code of the modules it loads natively (Effect,
 *   `ws`, OpenClaw's SDK in the workers; the CLI in the child processes the tests start), so a
 *   process after the first compiles less. Node checks each entry against the source, so a stale
 *   entry is never used. Vitest turns it off by itself under v8 coverage.
 */
const maxWorkers = Math.max(2, availableParallelism() - 1)
const compileCache = fileURLToPath(new URL("node_modules/.cache/node-compile-cache", import.meta.url))

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    maxWorkers,
    env: { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? compileCache },
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
          isolate: false,
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.property.test.ts", "test/e2e/**", "test/load/**", "test/package/**"]
        }
      },
      {
        extends: true,
        test: {
          name: "property",
          isolate: false,
          include: ["test/**/*.property.test.ts"]
        }
      }
    ]
  }
})
