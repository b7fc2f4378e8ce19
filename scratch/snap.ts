import { readFileSync } from "node:fs"
const snap = JSON.parse(readFileSync(process.argv[2]!, "utf8"))
const pattern = process.argv[3]!
const m = snap.snapshot.meta
const nf = m.node_fields.length, ef = m.edge_fields.length
const nodeTypes = m.node_types[0], edgeTypes = m.edge_types[0]
const N = snap.nodes, E = snap.edges, S = snap.strings
const count = N.length / nf
const firstEdge = new Int32Array(count + 1)
for (let i = 0, e = 0; i < count; i++) { firstEdge[i] = e; e += N[i * nf + m.node_fields.indexOf("edge_count")] * ef }
firstEdge[count] = E.length
const nameOf = (i: number) => S[N[i * nf + 1]]
const typeOf = (i: number) => nodeTypes[N[i * nf]]
const sizeOf = (i: number) => N[i * nf + 3]
// reverse edges
const retainers: Array<Array<[number, string]>> = Array.from({ length: count }, () => [])
for (let i = 0; i < count; i++) {
  for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += ef) {
    const to = E[e + 2] / nf
    const et = edgeTypes[E[e]]
    if (et === "weak") continue
    const nm = et === "element" || et === "hidden" ? `[${E[e + 1]}]` : S[E[e + 1]]
    retainers[to]!.push([i, `${et}:${nm}`])
  }
}
const matches: number[] = []
let bytes = 0
for (let i = 0; i < count; i++) if (typeOf(i).includes("string") && nameOf(i).startsWith(pattern)) { matches.push(i); bytes += sizeOf(i) }
console.log(matches.length, "matching strings,", bytes, "bytes")
const chains = new Map<string, number>()
for (const i of matches.slice(0, 2000)) {
  let cur = i; const chain: string[] = []
  for (let d = 0; d < 7; d++) {
    const r = retainers[cur]![0]; if (!r) break
    chain.push(`${r[1]} <- ${typeOf(r[0])}:${nameOf(r[0]).slice(0, 40)}`); cur = r[0]
  }
  const k = chain.join("\n    ")
  chains.set(k, (chains.get(k) ?? 0) + 1)
}
for (const [k, v] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(v, "x\n    " + k)
