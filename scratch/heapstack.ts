import { readFileSync } from "node:fs"
const p = JSON.parse(readFileSync(process.argv[2]!, "utf8"))
const pat = process.argv[3]!
const chains = new Map<string, number>()
const walk = (n: any, stack: string[]) => {
  const cf = n.callFrame
  const name = `${cf.functionName || "(anon)"} ${cf.url.replace(/.*\/(node_modules\/)?/, "")}:${cf.lineNumber + 1}`
  if (name.includes(pat) && n.selfSize > 0) { const k = stack.slice(-6).join(" < "); chains.set(k, (chains.get(k) ?? 0) + n.selfSize) }
  for (const c of n.children ?? []) walk(c, [...stack, name])
}
walk(p.head, [])
for (const [k, v] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log((v / 1e6).toFixed(2), "MB", k)
