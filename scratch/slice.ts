const keep: string[] = []
globalThis.gc!(); globalThis.gc!()
const before = process.memoryUsage().heapUsed
for (let i = 0; i < 10000; i++) {
  const src = JSON.stringify({ id: `msg_1733390000000_abcdefghijkl${i}`, pad: "x".repeat(2000) + i })
  keep.push(JSON.parse(src).id)
}
globalThis.gc!(); globalThis.gc!()
console.log(keep.length, "retained per id:", ((process.memoryUsage().heapUsed - before) / 10000).toFixed(0), "bytes", keep[5])
