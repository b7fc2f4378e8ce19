// `node scripts/profile-summary.ts <file.cpuprofile>`: where a V8 CPU profile spent its time —
// self time by function and by source (package or file), the figures the README's Performance
// section quotes. Reads the profile written by `node --cpu-prof` (e.g. BENCH_CPU_PROF=<dir>).
import { readFileSync } from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
const profile: { nodes: Array<Node>; samples: Array<number>; timeDeltas: Array<number> } = JSON.parse(readFileSync(process.argv[2]!, "utf8"))
const self = new Map<number, number>()
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...self.values()].reduce((a, b) => a + b, 0)
const source = (url: string) => {
  if (url === "") return "(native / V8)"
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]
  if (pkg !== undefined) return pkg === "effect" ? `effect/${/effect\/dist\/(.*)$/.exec(url)?.[1] ?? ""}` : pkg
  if (url.startsWith("node:")) return url
  return url.replace(/^file:\/\/.*?\/(src|bench)\//, "$1/")
}
const byFunction = new Map<string, number>()
const bySource = new Map<string, number>()
for (const node of profile.nodes) {
  const time = self.get(node.id) ?? 0
  if (time === 0) continue
  const { functionName, url, lineNumber } = node.callFrame
  const where = source(url)
  const key = `${functionName || "(anonymous)"} ${where}${url === "" ? "" : `:${lineNumber + 1}`}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + time)
  bySource.set(where, (bySource.get(where) ?? 0) + time)
}
const top = (map: Map<string, number>, count: number) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, time]) => `${((time / total) * 100).toFixed(1).padStart(5)} %  ${key}`).join("\n")
console.log(`${(total / 1e6).toFixed(2)} s sampled\n\nby source:\n${top(bySource, 20)}\n\nby function:\n${top(byFunction, 30)}`)
