/**
 * The inbound edge of one link. Each data frame is handled synchronously, in the socket's own
 * event, as it arrives: most frames are one step of the assembler and need nothing more. Only
 * when the handler returns an effect (a completed message for the agent, a line to log) does
 * the link's fiber run something, and frames that arrive meanwhile wait in a backlog, in
 * order, until it is done. A backlog over `highWaterMark` pauses the socket (TCP backpressure).
 *
 * Why not `effect/socket`'s reader: it resumes the reading fiber for every frame, so every
 * event of a streamed message cost a scheduler turn and a dozen effects. Effect is entered
 * once per completed message instead.
 * The socket's open, error and close still come from `effect/socket` (`Link.ts`).
 */
import { Effect } from "effect"

/** One data frame as the socket gives it. */
export type Frame = string | Uint8Array

/**
 * What to do with one frame, decided synchronously: nothing more (`undefined`), or an effect to
 * run — in the link's fiber — before the next frame is handled.
 */
export type FrameHandler = (frame: Frame) => Effect.Effect<void> | undefined

export interface Intake<E> {
  /** The socket's message listener: call for every data frame, in arrival order. */
  readonly onFrame: (frame: Frame) => void
  /** The socket has ended: `run` fails with `error` once every frame before it is handled. */
  readonly end: (error: E) => void
  /** Runs the handler's effects, in order; fails with the end's error, never succeeds. */
  readonly run: Effect.Effect<never, E>
}

const frameSize = (frame: Frame) => typeof frame === "string" ? frame.length : frame.byteLength

export const makeIntake = <E>(options: {
  readonly handle: FrameHandler
  /** Stop and restart reading the socket (a backlog over `highWaterMark`). */
  readonly pause: () => void
  readonly resume: () => void
  /** The handler's effects started (`true`) or are all done (`false`): the link is not reading meanwhile. */
  readonly busy: (busy: boolean) => void
  /** Backlog size (characters of text, bytes of binary) at which the socket is paused. */
  readonly highWaterMark: number
}): Intake<E> => {
  const backlog: Array<Frame | undefined> = []
  let backlogSize = 0
  let paused = false
  // Until `run` starts, frames wait in the backlog: the link finishes opening first.
  let busy = true
  let ended: { readonly error: E } | undefined
  /** The effect `run` is to run next, handed over by `onFrame`. */
  let next: Effect.Effect<void> | undefined
  let waiter: ((next: Effect.Effect<Effect.Effect<void> | undefined>) => void) | undefined

  const handle = (frame: Frame): Effect.Effect<void> | undefined => {
    try {
      return options.handle(frame)
    } catch (defect) {
      return Effect.die(defect)
    }
  }
  const wake = () => {
    if (waiter === undefined) return
    const resume = waiter
    waiter = undefined
    const effect = next
    next = undefined
    resume(Effect.succeed(effect))
  }
  const onFrame = (frame: Frame) => {
    if (ended !== undefined) return
    if (busy) {
      backlog.push(frame)
      backlogSize += frameSize(frame)
      if (!paused && backlogSize >= options.highWaterMark) {
        paused = true
        options.pause()
      }
      return
    }
    const effect = handle(frame)
    if (effect === undefined) return
    busy = true
    options.busy(true)
    next = effect
    wake()
  }
  const end = (error: E) => {
    if (ended !== undefined) return
    ended = { error }
    wake()
  }
  /** Waits for `onFrame` to hand over an effect, or for the end. */
  const nextEffect = Effect.callback<Effect.Effect<void> | undefined>((resume) => {
    if (next !== undefined || ended !== undefined) {
      const effect = next
      next = undefined
      return resume(Effect.succeed(effect))
    }
    waiter = resume
    return Effect.sync(() => {
      if (waiter === resume) waiter = undefined
    })
  })
  const run = Effect.gen(function*() {
    let effect: Effect.Effect<void> | undefined = undefined
    while (true) {
      if (effect !== undefined) yield* effect
      // Everything that arrived meanwhile, in order; a frame may ask for an effect of its own.
      for (let i = 0; i < backlog.length; i++) {
        const frame = backlog[i]!
        backlog[i] = undefined
        backlogSize -= frameSize(frame)
        const more = handle(frame)
        if (more !== undefined) yield* more
      }
      backlog.length = 0
      if (ended !== undefined) return yield* Effect.fail(ended.error)
      if (busy) {
        busy = false
        options.busy(false)
      }
      if (paused) {
        paused = false
        options.resume()
      }
      effect = yield* nextEffect
    }
  })
  return { onFrame, end, run }
}
