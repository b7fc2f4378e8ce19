// Second half of `npm run build`: makes the OpenClaw entry (dist/openclaw/index.js, the target of
// package.json's `openclaw.extensions`) one self-contained file, with Effect and ws inside it.
//
// Why: OpenClaw copies every package a plugin loads into a fresh capture directory for each
// plugin generation, and deletes it when that generation retires. Loaded from `node_modules`,
// this plugin made it copy and delete all of `effect` (about 3 000 files, 61 MB) on every
// `plugins reload`, twice; on a busy 2-core machine the delete sometimes outlasted OpenClaw's 5 s
// drain, which then logged "forced retirement". The bundle is one file of about 0.6 MB.
//
// The OpenClaw SDK stays outside (`openclaw/*` comes from the OpenClaw the plugin runs in), as do
// Node's built-ins and ws's optional native add-ons. The other files tsc wrote to dist/openclaw
// keep only their declarations: nothing loads their JavaScript any more. It prints nothing, so
// that `npm pack --json` (which runs the build) still prints only JSON.
import { readdirSync, rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const root = new URL("..", import.meta.url)
const entry = fileURLToPath(new URL("src/openclaw/index.ts", root))
const outDir = fileURLToPath(new URL("dist/openclaw/", root))

await build({
  input: entry,
  platform: "node",
  external: [/^openclaw(\/|$)/, /^node:/, "bufferutil", "utf-8-validate"],
  logLevel: "warn",
  output: { file: `${outDir}index.js`, format: "esm", comments: { legal: true, annotation: true, jsdoc: false } }
})

for (const name of readdirSync(outDir, { recursive: true, encoding: "utf8" })) {
  if (name.endsWith(".js") && name !== "index.js") rmSync(`${outDir}${name}`)
}
