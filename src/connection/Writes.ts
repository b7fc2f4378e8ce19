/**
 * One link's writes. A writer goes on as soon as ws has its frames; it waits for the OS only while
 * more than `HIGH_WATER_MARK` is unwritten, which keeps the socket's buffer bounded. Not waiting
 * loses nothing: a write that fails ends the link, and a reply counts as delivered only after a
 * pong (`Pings.ts`'s `confirm`), so it is re-sent on the next link (`Responses.ts`). Waiting for
 * every write's callback was an event-loop turn and a fiber resume per chunk of every reply.
 *
 * Gotchas: ws does not always call back queued writes on a killed socket (the soak found it), so
 * the link fails its waiting writers itself when it ends (`failAll`, from `Link.ts`).
 */
import { Effect } from "effect"
import { type ConnectionError, notConnected } from "../ConnectionError.ts"
import type { TextFrame, WebSocketHandle } from "../WebSocketHandle.ts"

/** Bytes handed to ws whose write has not called back yet, above which a writer waits. */
export const HIGH_WATER_MARK = 1024 * 1024

export interface Writes {
  /**
   * Writes frames in order; succeeds once ws has them (or, with over `HIGH_WATER_MARK` unwritten,
   * once the OS has them); fails with `NotConnected` if the socket is not open or the write fails.
   */
  readonly writeAll: (frames: ReadonlyArray<TextFrame>) => Effect.Effect<void, ConnectionError>
  /**
   * `writeAll` without an effect: true once ws has the frames; false, with nothing written, when
   * the socket is not open or they would pass the mark (then use `writeAll`, which waits).
   */
  readonly tryWriteAll: (frames: ReadonlyArray<TextFrame>) => boolean
  /** Fails every writer still waiting for the OS (the link ended). */
  readonly failAll: () => void
}

/** Characters of text, bytes of encoded text: what the mark counts. */
const sizeOf = (frames: ReadonlyArray<TextFrame>) => {
  let size = 0
  for (const frame of frames) size += frame.length
  return size
}

const ignore = () => {}

/** The writes of one socket; `isOpen` is false once it is no longer open. */
export const makeWrites = (handle: Pick<WebSocketHandle, "sendText">, isOpen: () => boolean): Writes => {
  const waiting = new Set<(result: Effect.Effect<void, ConnectionError>) => void>()
  let unwritten = 0
  /** Hands the frames to ws; `done` hears of the last one's write (ws calls back in order). */
  const send = (frames: ReadonlyArray<TextFrame>, bytes: number, done: (error: Error | undefined) => void) => {
    const last = frames.length - 1
    for (let i = 0; i < last; i++) handle.sendText(frames[i]!, ignore)
    handle.sendText(frames[last]!, (error) => {
      unwritten -= bytes
      done(error)
    })
  }
  /** The common case, with no effect at all: open, and below the mark once these are added. */
  const tryWriteAll = (frames: ReadonlyArray<TextFrame>): boolean => {
    if (frames.length === 0) return true
    if (!isOpen()) return false
    const bytes = sizeOf(frames)
    if (unwritten + bytes > HIGH_WATER_MARK) return false
    unwritten += bytes
    send(frames, bytes, ignore)
    return true
  }
  const writeAll = (frames: ReadonlyArray<TextFrame>): Effect.Effect<void, ConnectionError> =>
    Effect.suspend(() => {
      if (tryWriteAll(frames)) return Effect.void
      if (!isOpen()) return Effect.fail(notConnected(true))
      const bytes = sizeOf(frames)
      unwritten += bytes
      return Effect.callback<void, ConnectionError>((resume) => {
        const finish = (result: Effect.Effect<void, ConnectionError>) => {
          if (waiting.delete(finish)) resume(result)
        }
        waiting.add(finish)
        send(frames, bytes, (error) => finish(error === undefined ? Effect.void : Effect.fail(notConnected(true))))
        return Effect.sync(() => waiting.delete(finish))
      })
    })
  const failAll = () => {
    for (const finish of [...waiting]) finish(Effect.fail(notConnected(true)))
  }
  return { writeAll, tryWriteAll, failAll }
}
