import { Session } from "node:inspector"
import { writeFileSync } from "node:fs"
const session = new Session()
session.connect()
const post = (m, p) => new Promise((res, rej) => session.post(m, p, (e, r) => e ? rej(e) : res(r)))
await post("HeapProfiler.enable")
setTimeout(() => post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false }), 3000)
process.on("SIGTERM", async () => {
  const { profile } = await post("HeapProfiler.stopSampling")
  writeFileSync(`/tmp/alloc-${process.pid}.heapprofile`, JSON.stringify(profile))
  process.exit(0)
})
