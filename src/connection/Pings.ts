/**
 * Ping/pong accounting for one link, and with it delivery confirmation (docs/PROTOCOL.md §5).
 *
 * Every ping sent on the link goes through `send`, which numbers it; pongs come back in the
 * order pings went out, so pong k answers ping k — whichever unit sent it (the heartbeat or a
 * confirmation). `confirm` waits for the pong of a fresh ping: since TCP keeps order, that pong
 * proves the server read every frame written before the ping. Confirmations asked for together
 * share one ping.
 *
 * Liveness is not decided here: that is the heartbeat's job (`Heartbeat.ts`).
 */
import { Effect } from "effect"
import { type ConnectionError, notConnected } from "../ConnectionError.ts"

export interface Pings {
  /** Sends a ping (numbered). */
  readonly send: () => void
  /** Call for every pong received. */
  readonly onPong: () => void
  /**
   * Waits for the pong of a ping sent after everything written so far (one ping for all the
   * confirmations asked for in the same turn); fails with `NotConnected` if the link ends first.
   */
  readonly confirm: Effect.Effect<void, ConnectionError>
  /** Fails every waiting `confirm` (the link ended). */
  readonly failAll: () => void
}

export const makePings = (options: {
  readonly ping: () => void
  /** False once the socket is no longer open: `confirm` then fails at once. */
  readonly isOpen: () => boolean
}): Pings => {
  type Resume = (result: Effect.Effect<void, ConnectionError>) => void
  let sent = 0
  let answered = 0
  /** Who waits for which ping's pong. */
  const waiters = new Map<number, Set<Resume>>()
  /** Who asked for a confirmation since the last one went out: they share the next ping. */
  let asking = new Set<Resume>()
  const send = () => {
    sent++
    options.ping()
  }
  const fail = (resumes: Iterable<Resume>) => {
    for (const resume of resumes) resume(Effect.fail(notConnected(true)))
  }
  // One ping for every confirmation asked for while the fibers that are running now run: sent
  // once they have all had their turn (a microtask runs after the scheduler's batch), it comes
  // after everything they wrote, so its pong proves all of it.
  const flush = () => {
    const resumes = asking
    asking = new Set()
    if (resumes.size === 0) return
    if (!options.isOpen()) return fail(resumes)
    // Registered first: a pong may come back while `ping` is still running (a fake socket's does).
    waiters.set(sent + 1, resumes)
    send()
  }
  return {
    send,
    onPong: () => {
      answered++
      const resumes = waiters.get(answered)
      if (resumes === undefined) return
      waiters.delete(answered)
      for (const resume of resumes) resume(Effect.void)
    },
    confirm: Effect.callback<void, ConnectionError>((resume) => {
      if (!options.isOpen()) return resume(Effect.fail(notConnected(true)))
      if (asking.size === 0) queueMicrotask(flush)
      asking.add(resume)
      return Effect.sync(() => {
        asking.delete(resume)
        for (const resumes of waiters.values()) resumes.delete(resume)
      })
    }),
    failAll: () => {
      const all = [...asking, ...[...waiters.values()].flatMap((resumes) => [...resumes])]
      asking = new Set()
      waiters.clear()
      fail(all)
    }
  }
}
