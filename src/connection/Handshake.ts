/**
 * Protocol v2's handshake and acknowledgements, for one connection (docs/PROTOCOL.md §6–§7).
 *
 * Every link starts with the client's `hello` (its protocol and the features it offers), written
 * before anything else. Until the server's own hello arrives on that link the link is v1: a
 * server that never answers is v1, and nothing is acknowledged to it. A feature is used only when
 * both hellos list it; unknown features and fields are ignored.
 *
 * `acknowledge` writes one `ack` frame per user message on the open link, and only when that link
 * agreed on `ack`: an ack that cannot go out is simply not sent — the server redelivers the
 * message on the next link, and the connector's dedupe acknowledges it again there.
 */
import { Effect } from "effect"
import { Buffer } from "node:buffer"
import * as Wire from "../Wire.ts"
import type { Link } from "./Link.ts"

/** The features this client offers in its hello. */
export const CLIENT_FEATURES: ReadonlyArray<Wire.Feature> = ["ack", "media", "groups"]

/**
 * What one link agreed on: protocol 1 and no features until the server's hello; and, when that
 * hello says so, where media are uploaded and the largest frame the server reads (§8.1).
 */
export interface Agreement {
  readonly protocol: number
  readonly features: ReadonlyArray<Wire.Feature>
  readonly upload?: { readonly url: string } | undefined
  readonly maxFrameBytes?: number | undefined
}

/** Also a status patch: it clears what the last link's hello said. */
export const V1: Agreement = { protocol: 1, features: [], upload: undefined, maxFrameBytes: undefined }

/** The user message an ack is for. */
export interface AckTarget {
  readonly conversationId: string
  readonly responseId: string
}

/** A fresh envelope id (`msg_<ms>_<random>`) for the frames the handshake writes. */
const messageId = (now: number, token: string, count: number) => `msg_${now}_${token}${count.toString(36)}`

export const makeHandshake = (options: {
  readonly offered?: ReadonlyArray<Wire.Feature> | undefined
  /** Random letters that make this connection's envelope ids its own. */
  readonly token: string
}) => {
  const offered = options.offered ?? CLIENT_FEATURES
  let sent = 0
  /** The link (by generation) whose server said hello, or was taken for v1, and what it agreed on. */
  let agreed: { readonly generation: number; readonly agreement: Agreement } | undefined

  return {
    /** The client's hello: the first frame of every link. */
    hello: (now: number): Uint8Array =>
      Buffer.from(Wire.helloFrame({ messageId: messageId(now, options.token, sent++), timestamp: now, features: offered })),

    /** The server's hello on link `generation`: what both sides will use there. */
    onServerHello: (generation: number, hello: Wire.HelloData): Agreement => {
      const listed = new Set(hello.features)
      const agreement: Agreement = {
        protocol: hello.protocol,
        features: offered.filter((feature) => listed.has(feature)),
        ...(hello.upload === undefined ? {} : { upload: { url: hello.upload.url } }),
        ...(hello.maxFrameBytes === undefined ? {} : { maxFrameBytes: hello.maxFrameBytes })
      }
      agreed = { generation, agreement }
      return agreement
    },

    /** Whether link `generation` is settled: its server said hello, or was taken for v1. */
    decided: (generation: number): boolean => agreed?.generation === generation,

    /** Link `generation` said no hello in time: v1 for good, unless its hello still comes. */
    takeForV1: (generation: number): void => {
      // Only a newer link: a late wait must not undo what a later link's hello agreed on.
      if (agreed === undefined || agreed.generation < generation) agreed = { generation, agreement: V1 }
    },

    /**
     * Writes an ack for each target on `link` if it agreed on `ack`; succeeds with how many went
     * out. Never fails: an ack the link could not take costs only a redelivery.
     */
    acknowledge: (link: Link, targets: ReadonlyArray<AckTarget>, now: number): Effect.Effect<number> => {
      if (targets.length === 0 || agreed?.generation !== link.generation || !agreed.agreement.features.includes("ack")) {
        return Effect.succeed(0)
      }
      const frames = targets.map((target) =>
        Wire.ackFrame({ messageId: messageId(now, options.token, sent++), timestamp: now, ...target })
      )
      if (link.tryWriteAll(frames)) return Effect.succeed(frames.length)
      return link.writeAll(frames).pipe(Effect.as(frames.length), Effect.orElseSucceed(() => 0))
    }
  }
}

export type Handshake = ReturnType<typeof makeHandshake>
