/**
 * The V8 heap settings the `insta-claw` command line gives its own process (`src/cli.ts`) — what
 * a plugin cannot set for its host (for `connect`, and `serve` and `demo` alike). Measured in
 * docs/PERFORMANCE.md ("Memory under real load").
 *
 * - The young generation keeps its first size (`--semi-space-growth-factor=1`). Left to grow, V8
 *   grows it whenever enough bytes have survived its collections since it last grew — which a
 *   connector, holding each message until its reply is confirmed, reaches within seconds of steady
 *   traffic — up to its maximum, and the process's memory with it.
 * - The old generation grows by half its live size before the next full collection
 *   (`--heap-growing-percent=50`), not by up to several times: a little more CPU for less memory.
 *
 * Both are read each time V8 sizes the heap, so setting them after start takes effect
 * (`--max-semi-space-size` would not: it is read only at start). A setting the user gives, as a
 * Node flag or in NODE_OPTIONS, is left alone.
 */

/** The flags to set, given the Node flags the process was started with (`execArgv` and NODE_OPTIONS, joined). */
export const heapFlags = (given: string): Array<string> => {
  const flags: Array<string> = []
  if (!/--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/.test(given)) flags.push("--semi-space-growth-factor=1")
  if (!/--heap[-_]growing[-_]percent/.test(given)) flags.push("--heap-growing-percent=50")
  return flags
}
