import { readFileSync } from "node:fs"
const p = JSON.parse(readFileSync(process.argv[2]!, "utf8"))
const self = new Map<string, number>()
let total = 0
const walk = (n: any, stack: string[]) => {
  const cf = n.callFrame
  const name = `${cf.functionName || "(anon)"} ${cf.url.replace(/.*\/(node_modules\/)?/, "")}:${cf.lineNumber + 1}`
  const s = n.selfSize as number
  total += s
  if (s > 0) self.set(name, (self.get(name) ?? 0) + s)
  for (const c of n.children ?? []) walk(c, [...stack, name])
}
walk(p.head, [])
console.log("total sampled", (total / 1e6).toFixed(1), "MB")
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(((v / total) * 100).toFixed(1).padStart(5), "%", k)
