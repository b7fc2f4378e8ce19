/**
 * The command line's own V8 heap settings (`src/internal/heapFlags.ts`): both by default, and a
 * setting the user gave, as a flag or in NODE_OPTIONS, in either spelling, left alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { heapFlags } from "../../src/internal/heapFlags.ts"

describe("heapFlags", () => {
  it("keeps the young generation at its first size and the old one growing by half, unless the user sized them", () => {
    assert.deepStrictEqual(heapFlags(""), ["--semi-space-growth-factor=1", "--heap-growing-percent=50"])
    assert.deepStrictEqual(heapFlags("--enable-source-maps --max-old-space-size=512"), ["--semi-space-growth-factor=1", "--heap-growing-percent=50"])
    assert.deepStrictEqual(heapFlags("--max-semi-space-size=16"), ["--heap-growing-percent=50"])
    assert.deepStrictEqual(heapFlags("--cpu-prof --min_semi_space_size=2"), ["--heap-growing-percent=50"])
    assert.deepStrictEqual(heapFlags("--semi-space-growth-factor=2"), ["--heap-growing-percent=50"])
    assert.deepStrictEqual(heapFlags("--heap-growing-percent=100"), ["--semi-space-growth-factor=1"])
    assert.deepStrictEqual(heapFlags("--max-semi-space-size=8 --heap_growing_percent=80"), [])
  })
})
