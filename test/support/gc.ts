/** Runs a full garbage collection, so heap readings compare live objects only. */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

export const forceGc = (): void => {
  gc()
  gc()
}
