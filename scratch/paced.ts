// scratch: run the connector (dist/cli.js) under the paced load with extra node flags; print RSS over time
import { fork, spawn } from "node:child_process"
import { readFileSync, openSync } from "node:fs"
const flags = (process.env.FLAGS ?? "").split(" ").filter(Boolean)
const seconds = Number(process.env.SECONDS_ ?? 20)
const server = fork("/work/main/bench/echo/server.ts", { stdio: ["ignore", "inherit", "inherit", "ipc"] })
const msgs: any[] = []
let wake: (() => void) | undefined
server.on("message", (m: any) => { msgs.push(m); wake?.() })
const next = async (type: string) => { while (true) { const i = msgs.findIndex((m) => m.type === type); if (i >= 0) return msgs.splice(i, 1)[0]; await new Promise<void>((r) => (wake = r)) } }
const { port } = await next("listening")
const url = `ws://127.0.0.1:${port}/user-ws/`
const out = openSync("/tmp/paced-client.log", "w")
const client = spawn(process.execPath, process.env.CLI === "baseline" ? [...flags, process.env.BASELINE ?? "bench/echo/baseline.ts", url] : [...flags, process.env.CLI ?? "dist/cli.js", "connect"], { stdio: ["ignore", out, "inherit"], env: { ...process.env, INSTACLAW_WS_URL: url, INSTACLAW_CLIENT_ID: "demo", INSTACLAW_CLIENT_SECRET: "demo-secret" } })
server.send({ type: "run", messages: 1000 * seconds, conversations: 10, text: "twenty chars, hello!", window: Number(process.env.WINDOW ?? 0), perSecond: process.env.WINDOW ? undefined : 1000 })
await next("started")
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${client.pid}/status`, "utf8"))![1]) / 1024
let peak = 0
const timer = setInterval(() => { const r = rss(); peak = Math.max(peak, r) }, 250)
const t = setInterval(() => console.log(`rss ${rss().toFixed(0)} MiB (peak ${peak.toFixed(0)})`), 5000)
const done = await next("done")
clearInterval(timer); clearInterval(t)
console.log("done", JSON.stringify(done), "peak", peak.toFixed(1))
client.kill("SIGTERM"); server.disconnect()
