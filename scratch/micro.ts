import { Fiber, Effect, FiberSet, Semaphore, Stream, Metric, Clock, Random, Exit, Cause } from "effect"
const N = 100_000
const time = async (name: string, make: () => Effect.Effect<unknown>) => {
  const run = Effect.gen(function*() { for (let i = 0; i < N; i++) yield* make() })
  await Effect.runPromise(run) // warm
  const t = process.hrtime.bigint()
  await Effect.runPromise(run)
  const dt = Number(process.hrtime.bigint() - t) / N / 1000
  console.log(`${name.padEnd(40)} ${dt.toFixed(2)} µs`)
}
const counter = Metric.counter("x")
const sem = await Effect.runPromise(Semaphore.make(100))
const fnSpan = Effect.fn("answer")(function*(x: number) { return x })
const fnUntr = Effect.fnUntraced(function*(x: number) { return x })
const words = ["hello ", "world ", "again"]
await time("void", () => Effect.void)
await time("gen", () => Effect.gen(function*() { return 1 }))
await time("Effect.fn span", () => fnSpan(1))
await time("Effect.fnUntraced", () => fnUntr(1))
await time("withSpan", () => Effect.withSpan(Effect.void, "x"))
await time("Metric.update", () => Metric.update(counter, 1))
await time("logDebug (filtered)", () => Effect.logDebug(`a ${1}`))
await time("annotateLogs", () => Effect.annotateLogs(Effect.void, { a: "1", b: "2" }))
await time("sem.withPermits(1)", () => sem.withPermits(1)(Effect.void))
await time("sem take+release", () => Effect.andThen(sem.take(1), sem.release(1)))
await time("Clock.currentTimeMillis", () => Clock.currentTimeMillis)
await time("Random.next x2", () => Effect.flatMap(Random.next, () => Random.next))
await time("stream fromIterable runForEach", () => Stream.runForEach(Stream.fromIterable(words), () => Effect.void))
await time("stream +mapArray+catchCause+tapCause", () => Stream.fromIterable(words).pipe(Stream.tapCause(() => Effect.void), Stream.mapArray((c) => [c.length]), Stream.catchCause(() => Stream.succeed(0)), Stream.runForEach(() => Effect.void)))
await time("Effect.result", () => Effect.result(Effect.void))
await time("fork+join", () => Effect.flatMap(Effect.forkChild(Effect.void), (f) => Fiber.await(f)))
await time("callback sync resume", () => Effect.callback<void>((r) => r(Effect.void)))
await time("callback microtask resume", () => Effect.callback<void>((r) => { queueMicrotask(() => r(Effect.void)) }))
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const set = yield* FiberSet.make<void>()
  const t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) yield* FiberSet.run(set, Effect.void)
  yield* FiberSet.awaitEmpty(set)
  console.log(`${"FiberSet.run (to empty)".padEnd(40)} ${(Number(process.hrtime.bigint() - t) / N / 1000).toFixed(2)} µs`)
})))
