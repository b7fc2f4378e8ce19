import { RecentSet } from "../src/internal/recent.ts"
const N = 2_000_000
const ids: string[] = []
for (let i = 0; i < N; i++) ids.push(JSON.parse(JSON.stringify(`msg_1733390000000_${Math.random().toString(36).slice(2, 14)}${(i % 11).toString(36)}`)))
for (const cap of [10_000]) {
  const r = new RecentSet(cap)
  let t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) r.add(ids[i]!)
  console.log("RecentSet", cap, (Number(process.hrtime.bigint() - t) / N).toFixed(0), "ns/add")
  const s = new Set<string>()
  t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) { s.add(ids[i]!); if (s.size > cap) s.clear() }
  console.log("plain Set add (cleared)", (Number(process.hrtime.bigint() - t) / N).toFixed(0), "ns/add")
  const m = new Map<string, number>()
  t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) { m.set(ids[i]!, i); }
  console.log("unbounded Map", (Number(process.hrtime.bigint() - t) / N).toFixed(0), "ns/add")
}
