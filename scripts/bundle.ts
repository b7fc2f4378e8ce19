// Second half of `npm run build`: makes the OpenClaw entry (dist/openclaw/index.js, the target of
// package.json's `openclaw.extensions`) and the command line (dist/cli.js, the `insta-claw` bin)
// each one self-contained file, with Effect and ws inside it.
//
// Why: OpenClaw copies every package a plugin loads into a fresh capture directory for each
// plugin generation, and deletes it when that generation retires. Loaded from `node_modules`,
// this plugin made it copy and delete all of `effect` (about 3 000 files, 61 MB) on every
// `plugins reload`, twice; on a busy 2-core machine the delete sometimes outlasted OpenClaw's 5 s
// drain, which then logged "forced retirement". The bundle is one file of about 0.6 MB.
//
// The command line for memory: loaded module by module, `effect`'s index alone brings every one of
// its modules (about 50 MB of resident memory before the first frame); the bundle holds what the
// CLI uses, and an idle `insta-claw connect` went from 125 MB to 74 MB.
//
// The OpenClaw SDK stays outside (`openclaw/*` comes from the OpenClaw the plugin runs in), as do
// Node's built-ins and ws's optional native add-ons. The other files tsc wrote to dist/openclaw
// keep only their declarations: nothing loads their JavaScript any more. It prints nothing, so
// that `npm pack --json` (which runs the build) still prints only JSON.
import { readdirSync, rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const root = new URL("..", import.meta.url)
const path = (relative: string) => fileURLToPath(new URL(relative, root))
const outDir = path("dist/openclaw/")
const comments = { legal: true, annotation: true, jsdoc: false }

await build({
  input: path("src/openclaw/index.ts"),
  platform: "node",
  external: [/^openclaw(\/|$)/, /^node:/, "bufferutil", "utf-8-validate"],
  logLevel: "warn",
  output: { file: `${outDir}index.js`, format: "esm", comments }
})

await build({
  input: path("src/cli.ts"),
  platform: "node",
  external: [/^node:/, "bufferutil", "utf-8-validate"],
  logLevel: "warn",
  output: { file: path("dist/cli.js"), format: "esm", comments }
})

for (const name of readdirSync(outDir, { recursive: true, encoding: "utf8" })) {
  if (name.endsWith(".js") && name !== "index.js") rmSync(`${outDir}${name}`)
}
