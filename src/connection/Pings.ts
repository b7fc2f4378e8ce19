/**
 * Ping/pong accounting for one link, and with it delivery confirmation (docs/PROTOCOL.md §5).
 *
 * Every ping sent on the link goes through `send`, which numbers it; pongs come back in the
 * order pings went out, so pong k answers ping k — whichever unit sent it (the heartbeat or a
 * confirmation). `confirm` waits for the pong of a ping sent after everything its caller wrote:
 * since TCP keeps order, that pong proves the server read all of it.
 *
 * At most ONE confirmation ping is in flight per link. Confirmations asked for while it is out
 * wait, together, for the next one, sent when its pong comes back. A server that writes faster
 * than the link reads has its pongs queued behind everything it wrote; with a ping per reply they
 * piled up, and common servers cut off a peer with many pings unanswered (`ws` terminates one
 * past `maxPendingAutoPongs`, 60 by default) — a burst of messages then dropped the link.
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
   * confirmations asked for meanwhile); fails with `NotConnected` if the link ends first.
   */
  readonly confirm: Effect.Effect<void, ConnectionError>
  /**
   * `confirm` without a fiber: `done(true)` on that pong, `done(false)` if the link ends first. A
   * reply waiting for its pong is then a callback, not a suspended fiber (`Responses.settle`).
   */
  readonly confirmThen: (done: (confirmed: boolean) => void) => void
  /** Fails every waiting `confirm` (the link ended). */
  readonly failAll: () => void
}

/** Who waits for a pong: told whether it came (false: the link ended first). */
type Waiter = (confirmed: boolean) => void

export const makePings = (options: {
  readonly ping: () => void
  /** False once the socket is no longer open: `confirm` then fails at once. */
  readonly isOpen: () => boolean
}): Pings => {
  let sent = 0
  let answered = 0
  /** The confirmation ping in flight: its number, and who waits for its pong. */
  let inFlight: { readonly ping: number; readonly waiters: Set<Waiter> } | undefined
  /** Who asked for a confirmation since the ping in flight went out: they share the next one. */
  let asking = new Set<Waiter>()
  /** A flush is queued for the end of this turn. */
  let queued = false
  const send = () => {
    sent++
    options.ping()
  }
  const fail = (waiters: Iterable<Waiter>) => {
    for (const waiter of waiters) waiter(false)
  }
  // Sends the next confirmation ping for everyone asking, unless one is still out (its pong
  // calls this again). Run once the fibers running now have had their turn (a microtask runs
  // after the scheduler's batch), so the ping comes after everything they wrote.
  const flush = () => {
    queued = false
    if (inFlight !== undefined || asking.size === 0) return
    const waiters = asking
    asking = new Set()
    if (!options.isOpen()) return fail(waiters)
    // Set first: a pong may come back while `ping` is still running (a fake socket's does).
    inFlight = { ping: sent + 1, waiters }
    send()
  }
  const ask = (waiter: Waiter) => {
    asking.add(waiter)
    if (!queued && inFlight === undefined) {
      queued = true
      queueMicrotask(flush)
    }
  }
  return {
    send,
    onPong: () => {
      answered++
      if (inFlight === undefined || inFlight.ping !== answered) return
      const { waiters } = inFlight
      inFlight = undefined
      for (const waiter of waiters) waiter(true)
      flush()
    },
    confirm: Effect.callback<void, ConnectionError>((resume) => {
      if (!options.isOpen()) return resume(Effect.fail(notConnected(true)))
      const waiter: Waiter = (confirmed) => resume(confirmed ? Effect.void : Effect.fail(notConnected(true)))
      ask(waiter)
      return Effect.sync(() => {
        asking.delete(waiter)
        inFlight?.waiters.delete(waiter)
      })
    }),
    confirmThen: (done) => {
      if (!options.isOpen()) return done(false)
      ask(done)
    },
    failAll: () => {
      const all = [...asking, ...(inFlight?.waiters ?? [])]
      asking = new Set()
      inFlight = undefined
      fail(all)
    }
  }
}
