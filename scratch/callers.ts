import { readFileSync } from "node:fs"
const [file, pattern, depthArg] = process.argv.slice(2)
const depth = Number(depthArg ?? 4)
const p = JSON.parse(readFileSync(file!, "utf8"))
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const self = new Map<number, number>()
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)))
const total = [...self.values()].reduce((a, b) => a + b, 0)
const name = (n: any) => `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.replace(/.*\/(node_modules\/)?/, "")}:${n.callFrame.lineNumber + 1}`
// inclusive time per node
const incl = new Map<number, number>()
const inc = (id: number): number => { if (incl.has(id)) return incl.get(id)!; const n = byId.get(id); let t = self.get(id) ?? 0; for (const c of n.children ?? []) t += inc(c); incl.set(id, t); return t }
for (const n of p.nodes) inc(n.id)
const chains = new Map<string, number>()
let sum = 0
for (const n of p.nodes) {
  if (!name(n).includes(pattern!)) continue
  // skip if an ancestor also matches (avoid double count)
  let a = parent.get(n.id), skip = false
  while (a !== undefined) { if (name(byId.get(a)).includes(pattern!)) { skip = true; break } a = parent.get(a) }
  if (skip) continue
  const t = incl.get(n.id)!
  sum += t
  const chain: string[] = []
  let c = parent.get(n.id)
  for (let i = 0; i < depth && c !== undefined; i++) { chain.push(name(byId.get(c))); c = parent.get(c) }
  const k = chain.join(" < ")
  chains.set(k, (chains.get(k) ?? 0) + t)
}
console.log(`${pattern}: inclusive ${(sum / total * 100).toFixed(1)} %`)
for (const [k, t] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(t / total * 100).toFixed(2).padStart(6)} %  ${k}`)
