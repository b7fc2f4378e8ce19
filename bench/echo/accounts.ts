/**
 * N accounts in one process, for the bench's scale phase (`fork`ed by bench/run.ts with IPC):
 * N connectors, each its own `InstaClaw` layer and WebSocket, against one server, with the echo
 * agent. The parent measures this process only.
 *
 * argv: <url> <accounts> <heartbeatInterval ms>. IPC out: `{ type: "ready" }` once all are
 * connected; on `{ type: "measure" }` it answers `{ type: "usage", cpuMs, cpuAfterGcMs, rssMiB,
 * heapMiB }`.
 */
import { Agent } from "../../src/Agent.ts"
import { connectorHarness, gc } from "../support.ts"

const [url, count, heartbeat] = process.argv.slice(2)
const accounts = await Promise.all(
  Array.from({ length: Number(count) }, () =>
    // A long silence threshold: the busy server in the parent may be slow to answer a ping.
    connectorHarness(url!, Agent.echo, { heartbeatInterval: Number(heartbeat), timeoutThreshold: 120_000 }))
)
process.on("message", (message: { readonly type: string }) => {
  if (message.type !== "measure") return
  // The collection is the bench's own work, not the accounts': CPU is read before it (for the
  // window that ends here) and after it (for the window that starts here).
  const millis = ({ user, system }: NodeJS.CpuUsage) => (user + system) / 1000
  const cpuMs = millis(process.cpuUsage())
  gc()
  const cpuAfterGcMs = millis(process.cpuUsage())
  const memory = process.memoryUsage()
  process.send!({ type: "usage", cpuMs, cpuAfterGcMs, rssMiB: memory.rss / 1048576, heapMiB: memory.heapUsed / 1048576 })
})
process.on("disconnect", () => {
  void Promise.all(accounts.map((account) => account.close())).then(() => process.exit(0))
})
process.send!({ type: "ready" })
