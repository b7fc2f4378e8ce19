// `npm run manifest`: writes what OpenClaw reads before it loads any code, from the code that owns
// it — openclaw.plugin.json from the settings table (src/Settings.ts via
// src/openclaw/ChannelSchema.ts), and package.json's openclaw.channel.setup.fields from the setup
// contract (src/openclaw/Setup.ts). Both are committed; `test/openclaw/Channel.test.ts` fails when
// either differs from what this would write.
import { readFileSync, writeFileSync } from "node:fs"
import { manifest } from "../src/openclaw/ChannelSchema.ts"
import { setupFieldsManifest } from "../src/openclaw/Setup.ts"

const pluginManifest = new URL("../openclaw.plugin.json", import.meta.url)
writeFileSync(pluginManifest, `${JSON.stringify(manifest, null, 2)}\n`)
console.log(`wrote ${pluginManifest.pathname}`)

const packageJson = new URL("../package.json", import.meta.url)
const pkg = JSON.parse(readFileSync(packageJson, "utf8"))
pkg.openclaw.channel.setup = { fields: setupFieldsManifest }
writeFileSync(packageJson, `${JSON.stringify(pkg, null, 2)}\n`)
console.log(`wrote openclaw.channel.setup in ${packageJson.pathname}`)
