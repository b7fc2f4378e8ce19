// `npm run test:node22`: the unit and property tests on Node 22, the older supported LTS line.
// Node 22 comes from the npm registry's `node` package (`npm exec --package=node@22`), the same
// way the project brings Node 24; this script checks it got it, then runs vitest under it.
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

if (!process.version.startsWith("v22.")) {
  console.error(`test:node22 expected Node 22 but runs on ${process.version}`)
  process.exit(1)
}
console.log(`Running the tests on Node ${process.version}`)
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url))
const run = spawnSync(process.execPath, [vitest, "run"], { stdio: "inherit" })
process.exit(run.status ?? 1)
