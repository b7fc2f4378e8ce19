/**
 * Where an outbound medium's bytes live (docs/PROTOCOL.md §8.1), decided for each `ReplyMedia`
 * of a reply before the encoder sees it (`Protocol.ReplyOptions.resolveMedia`, wired by
 * `Reply.ts`):
 *
 * - an `https://` (or loopback `http://`) URL goes out as it is;
 * - bytes (or a `data:` URL) go inline as a `data:` URL while the reply's inline media stay
 *   within the server's frame limit (its hello's `maxFrameBytes`, else 1 MiB), less room for the
 *   rest of the frame;
 * - larger ones are uploaded when the server's hello offers `upload.url`: an HTTP POST of the
 *   bytes with `x-app-key`/`x-app-secret` and `Content-Type`, answered by `{"url": …}`;
 * - anything else is not dropped silently: the reply's text says the medium could not be sent,
 *   and a warning says why.
 *
 * Gotchas: nothing of a medium's bytes, and no secret, reaches a log line (URLs are described by
 * scheme, host and path). The upload never follows a redirect, so the credentials go to the
 * URL the server named and nowhere else; that URL must be `https://`, or `http://` on a loopback
 * host. The text of the reply is not known when a medium comes, so the room kept for it is a
 * share of the limit, not its size.
 */
import { Duration, Effect, Redacted, Schema } from "effect"
import { Buffer } from "node:buffer"
import {
  checkUrl,
  dataUrlBytes,
  dataUrlLength,
  describeUrl,
  filenameOf,
  parseDataUrl,
  type ReplyMedia,
  sniffMimeType,
  toDataUrl
} from "../Media.ts"
import type { ReplyPiece } from "../ReplyEncoder.ts"

/** The frame limit assumed when the server's hello does not say one (§8.1). */
export const DEFAULT_SERVER_FRAME_BYTES = 1024 * 1024

/** What the open link's hellos said that matters here (`Connection.status`). */
export interface MediaLink {
  readonly upload?: { readonly url: string } | undefined
  readonly maxFrameBytes?: number | undefined
}

/** An upload that did not give a URL. `message` is safe to log: no bytes, no secret. */
export class UploadError extends Schema.TaggedError<UploadError>()("UploadError", { message: Schema.String }) {}

export interface UploadRequest {
  readonly url: string
  readonly bytes: Uint8Array
  readonly mimeType: string
  readonly headers: Readonly<Record<string, string>>
}

/** Posts the bytes and gives the URL the server answered with. */
export type Upload = (request: UploadRequest) => Effect.Effect<string, UploadError>

/** The largest upload answer read: it is a small JSON object. */
const MAX_ANSWER_BYTES = 64 * 1024

const readAnswer = async (response: Response): Promise<string> => {
  const reader = response.body?.getReader()
  if (reader === undefined) return ""
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    size += next.value.byteLength
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel()
      throw new Error(`the answer is longer than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(next.value)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

/** The upload with the platform's `fetch`. */
export const fetchUpload: Upload = (request) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(request.url, { method: "POST", body: request.bytes as Uint8Array<ArrayBuffer>, headers: request.headers, redirect: "error", signal })
      if (!response.ok) {
        await response.body?.cancel()
        throw new Error(`the server answered HTTP ${response.status}`)
      }
      const answer = JSON.parse(await readAnswer(response)) as { readonly url?: unknown } | null
      if (typeof answer?.url !== "string") throw new Error("the answer has no url")
      return answer.url
    },
    catch: (error) => new UploadError({ message: error instanceof Error ? error.message : "the upload failed" })
  })

export interface MediaOptions {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** What the open link agreed on (`Connection.status`). */
  readonly link: Effect.Effect<MediaLink>
  /** Default `fetchUpload`. */
  readonly upload?: Upload | undefined
  /** How long one upload may take. Default 60 seconds. */
  readonly uploadTimeout?: Duration.Input | undefined
}

export interface OutboundMedia {
  /** A resolver for one reply (`ReplyOptions.resolveMedia`): the inline budget is the reply's own. */
  readonly forReply: () => (media: ReplyMedia) => Effect.Effect<ReadonlyArray<ReplyPiece>>
}

export const makeMedia = (options: MediaOptions): OutboundMedia => {
  const upload = options.upload ?? fetchUpload
  const timeout = Duration.fromInputUnsafe(options.uploadTimeout ?? "60 seconds")

  /** The reply's text instead of the medium, and the log line saying why. */
  const notSent = (media: ReplyMedia, what: string, why: string): Effect.Effect<ReadonlyArray<ReplyPiece>> => {
    const noun = media.kind === "file" ? "file" : media.kind
    const name = media.filename === undefined ? "" : ` "${media.filename}"`
    return Effect.as(Effect.logWarning(`Could not send ${what}: ${why}; the reply says so instead`), [`\n\n[The ${noun}${name} could not be sent.]`])
  }

  const uploaded = (media: ReplyMedia, bytes: Uint8Array, mimeType: string, uploadUrl: string, what: string) =>
    upload({
      url: uploadUrl,
      bytes,
      mimeType,
      headers: { "x-app-key": options.clientId, "x-app-secret": Redacted.value(options.clientSecret), "content-type": mimeType }
    }).pipe(
      Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(new UploadError({ message: `no answer within ${Duration.format(timeout)}` })) }),
      Effect.flatMap((url) => {
        const wrong = parseDataUrl(url) === undefined ? checkUrl(url, media.kind) : "a data: URL"
        return wrong === undefined ? Effect.succeed(url) : Effect.fail(new UploadError({ message: `the server answered with ${wrong}` }))
      }),
      Effect.matchEffect({
        onFailure: (error) => notSent(media, what, `the upload to ${describeUrl(uploadUrl)} failed: ${error.message}`),
        onSuccess: (url) =>
          Effect.as(Effect.logDebug(`Uploaded ${what} to ${describeUrl(url)}`), [
            { ...withoutBytes(media), url, mimeType, filename: filenameOf({ kind: media.kind, url, filename: media.filename }) }
          ])
      })
    )

  return {
    forReply: () => {
      /** Characters of `data:` URLs this reply has inlined so far. */
      let inlined = 0
      return (media) =>
        Effect.gen(function*() {
          const data = media.url === undefined ? undefined : parseDataUrl(media.url)
          if (media.url !== undefined && data === undefined) {
            const wrong = checkUrl(media.url, media.kind)
            return wrong === undefined ? [media] : yield* notSent(media, aKind(media), wrong)
          }
          const bytes = data === undefined ? media.bytes : dataUrlBytes(data)
          if (bytes === undefined) return yield* notSent(media, aKind(media), "it has neither a URL nor bytes (or its data: URL is not valid base64)")
          const mimeType = media.mimeType ?? data?.mimeType ?? sniffMimeType(bytes) ?? "application/octet-stream"
          const what = `${aKind(media)} (${filenameOf({ kind: media.kind, url: "data:", filename: media.filename })}, ${bytes.byteLength} bytes, ${mimeType})`
          const link = yield* options.link
          const limit = link.maxFrameBytes ?? DEFAULT_SERVER_FRAME_BYTES
          // The response.completed frame holds every inlined medium and the text: a quarter of
          // the limit (at least 64 KiB) is kept for the text and the rest of the frame.
          const budget = limit - Math.max(64 * 1024, Math.floor(limit / 4))
          const length = dataUrlLength(bytes.byteLength, mimeType)
          if (inlined + length <= budget) {
            inlined += length
            return [{ ...withoutBytes(media), url: toDataUrl(bytes, mimeType), mimeType }]
          }
          const uploadUrl = link.upload?.url
          if (uploadUrl === undefined) return yield* notSent(media, what, `it is too large to send inline (frames up to ${limit} bytes) and the server offers no upload`)
          const wrongUpload = checkUrl(uploadUrl, "file")
          if (wrongUpload !== undefined || parseDataUrl(uploadUrl) !== undefined) {
            return yield* notSent(media, what, `the server's upload URL is not https:// (${describeUrl(uploadUrl)}), so no credentials go there`)
          }
          return yield* uploaded(media, bytes, mimeType, uploadUrl, what)
        })
    }
  }
}

const aKind = (media: ReplyMedia) => media.kind === "image" ? "an image" : `a ${media.kind}`

const withoutBytes = (media: ReplyMedia): ReplyMedia => {
  const { bytes: _bytes, ...rest } = media
  return rest
}
