/**
 * Ping/pong accounting for one link, and with it delivery confirmation (docs/PROTOCOL.md §5).
 *
 * Every ping sent on the link goes through `send`, which numbers it; pongs come back in the
 * order pings went out, so pong k answers ping k — whichever unit sent it (the heartbeat or a
 * confirmation). `confirm` sends a fresh ping and waits for its pong: since TCP keeps order,
 * that pong proves the server read every frame written before the ping.
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
  /** Pings and waits for the answering pong; fails with `NotConnected` if the link ends first. */
  readonly confirm: Effect.Effect<void, ConnectionError>
  /** Fails every waiting `confirm` (the link ended). */
  readonly failAll: () => void
}

export const makePings = (options: {
  readonly ping: () => void
  /** False once the socket is no longer open: `confirm` then fails at once. */
  readonly isOpen: () => boolean
}): Pings => {
  let sent = 0
  let answered = 0
  const waiters = new Map<number, (result: Effect.Effect<void, ConnectionError>) => void>()
  const send = () => {
    sent++
    options.ping()
  }
  return {
    send,
    onPong: () => {
      answered++
      waiters.get(answered)?.(Effect.void)
      waiters.delete(answered)
    },
    confirm: Effect.callback<void, ConnectionError>((resume) => {
      if (!options.isOpen()) return resume(Effect.fail(notConnected(true)))
      const number = sent + 1
      waiters.set(number, resume)
      send()
      return Effect.sync(() => waiters.delete(number))
    }),
    failAll: () => {
      for (const resume of waiters.values()) resume(Effect.fail(notConnected(true)))
      waiters.clear()
    }
  }
}
