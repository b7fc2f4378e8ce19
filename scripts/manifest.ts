// `npm run manifest`: writes openclaw.plugin.json from the settings table (src/Settings.ts via
// src/openclaw/ChannelSchema.ts). OpenClaw reads the file before it loads any code, so it is
// committed; `test/openclaw/Channel.test.ts` fails when it differs from what this would write.
import { writeFileSync } from "node:fs"
import { manifest } from "../src/openclaw/ChannelSchema.ts"

const path = new URL("../openclaw.plugin.json", import.meta.url)
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`)
console.log(`wrote ${path.pathname}`)
