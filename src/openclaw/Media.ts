/**
 * Photos, voice notes and files through OpenClaw (docs/PROTOCOL.md §8.1), with the host's own
 * media helpers.
 *
 * Inbound (`receive`): each medium of a user's message is saved into the host's media store —
 * `runtime.channel.media.saveRemoteMedia` for a URL, `saveMediaBuffer` for a `data:` URL — within
 * the account's limit (`mediaMaxMb`, else `agents.defaults.mediaMaxMb`, through
 * `resolveChannelMediaMaxBytes`), and reaches the agent as the context's `media` facts
 * (`toInboundMediaFacts`). One that cannot be saved (too big, not found, not https) becomes a
 * notice in the body (`formatInboundMediaUnavailableText`), and the message is still answered.
 *
 * Outbound (`ReplyMediaUrls`, `toReplyMedia`): the media URLs of a reply — the `mediaUrl(s)` of
 * the host's deliveries, where its `MEDIA:` lines end up, and `outbound.sendMedia` — become
 * `ReplyMedia` pieces: an `https://` URL as it is; anything else (a local file, a media-store
 * reference) loaded with `loadWebMedia` within the agent's media roots and handed over as bytes,
 * which the library inlines or uploads.
 *
 * Gotchas: OpenClaw's fetch refuses loopback addresses (SSRF guard). A loopback `http://` medium is
 * fetched only when the account's own server is on loopback (a test or local setup), by naming
 * that one host in the fetch's `ssrfPolicy.allowedHostnames`; a server elsewhere cannot make the
 * gateway read this machine's services.
 *
 * @since 0.2.0
 */
import { Buffer } from "node:buffer"
import { Effect, Result, Schema } from "effect"
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import { formatInboundMediaUnavailableText, type InboundMediaFacts, toInboundMediaFacts } from "openclaw/plugin-sdk/channel-inbound"
import { resolveChannelMediaMaxBytes } from "openclaw/plugin-sdk/account-helpers"
import { getAgentScopedMediaLocalRoots } from "openclaw/plugin-sdk/media-local-roots"
import { mediaKindFromMime, mimeTypeFromFilePath } from "openclaw/plugin-sdk/media-mime"
import { resolveOutboundMediaUrls } from "openclaw/plugin-sdk/reply-payload"
import { dataUrlBytes, describeUrl, filenameOf, isLoopbackHost, type MediaKind, type MediaPart, parseDataUrl, type ReplyMedia } from "../Media.ts"
import { resolveSettings } from "./Account.ts"

/** What the media store returns for a saved medium. */
export interface SavedMedia {
  readonly path: string
  readonly size: number
  readonly contentType?: string | undefined
  readonly fileName?: string | undefined
}

/** The part of OpenClaw's `runtime.channel.media` this module uses: the host's media store. */
export interface HostMediaStore {
  readonly saveRemoteMedia: (options: {
    url: string
    maxBytes?: number
    requireHttps?: boolean
    ssrfPolicy?: { allowedHostnames?: Array<string> }
    originalFilename?: string
    fallbackContentType?: string
  }) => Promise<SavedMedia>
  readonly saveMediaBuffer: (buffer: Buffer, contentType?: string, subdir?: string, maxBytes?: number, originalFilename?: string) => Promise<SavedMedia>
}

const MB = 1024 * 1024

/** The account's media settings in `cfg`: the size limit (the host's default when unset) and whether its server is on loopback. */
export const mediaSettings = (cfg: unknown, accountId: string): { readonly maxBytes: number | undefined; readonly loopbackServer: boolean } => {
  const resolved = (id: string | null | undefined) => {
    const { result } = resolveSettings(cfg as OpenClawConfig, id)
    return Result.isSuccess(result) ? result.success : undefined
  }
  const own = resolved(accountId)
  const maxBytes = resolveChannelMediaMaxBytes({
    cfg: cfg as OpenClawConfig,
    accountId,
    resolveChannelLimitMb: ({ accountId }) => resolved(accountId)?.mediaMaxMb
  })
  return { maxBytes, loopbackServer: own !== undefined && isLoopbackHost(new URL(own.url).hostname) }
}

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

/** A user's message as the agent gets it: the body, and the media saved in the host's store. */
export interface ReceivedMessage {
  /** The text, followed by a notice for each medium that could not be saved; "" for a media-only message. */
  readonly body: string
  /** The media facts for the context, in the message's order; empty when there are none. */
  readonly facts: Array<InboundMediaFacts>
}

/** Why a medium could not be taken, in the words of the notice the agent reads. */
class Unavailable {
  readonly reason: string
  /** What went wrong, for the log. */
  readonly detail: string
  constructor(reason: string, detail: string) {
    this.reason = reason
    this.detail = detail
  }
}

/**
 * Saves each medium of a message into the host's store and says what could not be saved.
 * Never fails: a medium lost is a notice in the body, and a line in the log.
 */
// A span without a stack trace: it runs for every message, most with no media, and `Effect.fn`
// captures a stack trace at each call.
export const receive = Effect.fnUntraced(function*(params: {
  readonly text: string
  readonly media?: ReadonlyArray<MediaPart> | undefined
  readonly messageId: string
  readonly store: HostMediaStore | undefined
  readonly cfg: unknown
  readonly accountId: string
}) {
  const media = params.media ?? []
  if (media.length === 0) return { body: params.text, facts: [] } satisfies ReceivedMessage
  const { loopbackServer, maxBytes } = mediaSettings(params.cfg, params.accountId)
  const saved = yield* Effect.forEach(media, (part) => Effect.result(save(part, params.store, maxBytes, loopbackServer)), { concurrency: 4 })
  const notices: Array<string> = []
  const inputs = saved.flatMap((result, index) => {
    const part = media[index]!
    if (Result.isFailure(result)) {
      notices.push(`[${labelOf(part)} unavailable: ${result.failure.reason}]`)
      return []
    }
    const stored = result.success
    return [{
      path: stored.path,
      // A data: URL is the bytes themselves: the stored file stands for it.
      url: parseDataUrl(part.url) === undefined ? part.url : null,
      contentType: stored.contentType ?? part.mimeType ?? null,
      fileName: part.filename ?? stored.fileName ?? null,
      // A file's kind (audio for a voice note, a document, …) is the host's to tell from its type.
      kind: part.kind === "file" ? null : part.kind
    }]
  })
  for (const [index, result] of saved.entries()) {
    if (Result.isFailure(result)) {
      yield* Effect.logWarning(`Could not take the ${labelOf(media[index]!)} ${describeUrl(media[index]!.url)} of message ${params.messageId}: ${result.failure.detail}`)
    }
  }
  const body = notices.length === 0 ? params.text : formatInboundMediaUnavailableText({ body: params.text, notice: notices.join("\n") })
  return { body, facts: toInboundMediaFacts(inputs, { messageId: params.messageId }) } satisfies ReceivedMessage
}, Effect.withSpan("OpenClawMedia.receive", undefined, { captureStackTrace: false }))

/** How a notice names a medium: a voice note is audio. */
const labelOf = (part: MediaPart): string => part.kind === "file" && part.mimeType?.startsWith("audio/") === true ? "audio" : part.kind

const save = (part: MediaPart, store: HostMediaStore | undefined, maxBytes: number | undefined, loopbackServer: boolean): Effect.Effect<SavedMedia, Unavailable> => {
  if (store === undefined) return Effect.fail(new Unavailable("this OpenClaw cannot store media", "the host's runtime has no media store; update OpenClaw"))
  const limit = maxBytes === undefined ? {} : { maxBytes }
  const data = parseDataUrl(part.url)
  if (data !== undefined) {
    const bytes = dataUrlBytes(data)
    if (bytes === undefined) return Effect.fail(new Unavailable("unreadable data", "its data: URL does not decode"))
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return hostCall(() => store.saveMediaBuffer(buffer, part.mimeType ?? data.mimeType, "inbound", maxBytes, part.filename), maxBytes)
  }
  const url = URL.canParse(part.url) ? new URL(part.url) : undefined
  const named = {
    ...(part.filename === undefined ? {} : { originalFilename: part.filename }),
    ...(part.mimeType === undefined ? {} : { fallbackContentType: part.mimeType })
  }
  if (url?.protocol === "https:") return hostCall(() => store.saveRemoteMedia({ url: part.url, requireHttps: true, ...limit, ...named }), maxBytes)
  if (url?.protocol === "http:" && isLoopbackHost(url.hostname) && loopbackServer) {
    const allowed = { allowedHostnames: [url.hostname.replace(/^\[|\]$/g, "")] }
    return hostCall(() => store.saveRemoteMedia({ url: part.url, ssrfPolicy: allowed, ...limit, ...named }), maxBytes)
  }
  return Effect.fail(new Unavailable("not an https:// link", "only https:// (and loopback http:// for a loopback server) is fetched"))
}

/** A call into the media store, its failure said as a reason (`MediaFetchError` and `SaveMediaSourceError` carry a `code`). */
const hostCall = (call: () => Promise<SavedMedia>, maxBytes: number | undefined): Effect.Effect<SavedMedia, Unavailable> =>
  Effect.tryPromise({ try: call, catch: (error) => error }).pipe(
    Effect.mapError((error) => {
      const { code, message, status } = (typeof error === "object" && error !== null ? error : {}) as { code?: unknown; status?: unknown; message?: unknown }
      const detail = typeof message === "string" ? message : String(error)
      if (code === "max_bytes" || code === "too-large") {
        return new Unavailable(maxBytes === undefined ? "too large" : `larger than the ${megabytes(maxBytes)} limit`, detail)
      }
      if (code === "http_error" && typeof status === "number") return new Unavailable(status === 404 ? "not found (HTTP 404)" : `HTTP ${status}`, detail)
      return new Unavailable("download failed", detail)
    })
  )

const megabytes = (bytes: number) => `${Number((bytes / MB).toFixed(2))} MB`

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/**
 * The media URLs of one reply, each once: a final delivery repeats the blocks' media, and the
 * host may deliver the same payload twice.
 */
export class ReplyMediaUrls {
  private readonly seen = new Set<string>()

  /** The URLs of `payload` not seen before in this reply, in order (`mediaUrls`, else `mediaUrl`, as the host reads them). */
  fresh(payload: { readonly mediaUrl?: string | undefined; readonly mediaUrls?: ReadonlyArray<string> | undefined }): Array<string> {
    const urls = resolveOutboundMediaUrls({
      ...(payload.mediaUrl === undefined ? {} : { mediaUrl: payload.mediaUrl }),
      ...(payload.mediaUrls === undefined ? {} : { mediaUrls: [...payload.mediaUrls] })
    })
    const fresh: Array<string> = []
    for (const url of urls.map((url) => url.trim())) {
      if (url === "" || this.seen.has(url)) continue
      this.seen.add(url)
      fresh.push(url)
    }
    return fresh
  }
}

/** Where local media may be read from: the host's own options for a send, or the agent's roots. */
export interface LoadAccess {
  readonly mediaLocalRoots?: ReadonlyArray<string> | undefined
  readonly mediaReadFile?: ((filePath: string) => Promise<Buffer>) | undefined
  readonly mediaAccess?: { readonly localRoots?: ReadonlyArray<string>; readonly readFile?: (filePath: string) => Promise<Buffer>; readonly workspaceDir?: string } | undefined
}

/** The agent's media roots (its workspace, the state directory's media folders): where its `MEDIA:` files may be. */
export const agentAccess = (cfg: unknown, agentId: string): LoadAccess => ({ mediaLocalRoots: getAgentScopedMediaLocalRoots(cfg as OpenClawConfig, agentId) })

/** A medium of a reply that could not be loaded: its name, and why (for the log only). */
export class MediaNotSent extends Schema.TaggedError<MediaNotSent>()("MediaNotSent", {
  name: Schema.String,
  kind: Schema.Literals(["image", "file", "video"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `Could not send ${this.name}: ${this.detail}`
  }
  /** What the end user reads in the reply instead of the file (worded as the connector's own, `connector/Media.ts`). */
  get sentence(): string {
    return `[The ${this.kind} "${this.name}" could not be sent.]`
  }
}

/**
 * One media URL of a reply as a `ReplyMedia` piece: an `https://` URL as it is; anything else read
 * with `loadWebMedia` (`buildOutboundMediaLoadOptions`, within `access` and the account's limit).
 */
export const toReplyMedia = Effect.fn("OpenClawMedia.toReplyMedia")(function*(mediaUrl: string, options: {
  readonly access: LoadAccess
  readonly maxBytes: number | undefined
}) {
  const https = URL.canParse(mediaUrl) && new URL(mediaUrl).protocol === "https:"
  if (https) {
    const mimeType = mimeTypeFromFilePath(new URL(mediaUrl).pathname)
    return {
      _tag: "Media",
      kind: kindOf(mimeType),
      url: mediaUrl,
      filename: filenameOf({ kind: "file", url: mediaUrl }),
      ...(mimeType === undefined ? {} : { mimeType })
    } satisfies ReplyMedia as ReplyMedia
  }
  const name = nameOf(mediaUrl)
  // Loaded on first use: the module graph behind them is large, and most replies carry no file.
  // `buildOutboundMediaLoadOptions` has its typed export only in the deprecated `media-runtime` barrel.
  const loaded = yield* Effect.tryPromise({
    try: async () => {
      const [{ loadWebMedia }, { buildOutboundMediaLoadOptions }] = await Promise.all([
        import("openclaw/plugin-sdk/web-media"),
        import("openclaw/plugin-sdk/media-runtime")
      ])
      const { mediaAccess, mediaLocalRoots, mediaReadFile } = options.access
      return loadWebMedia(mediaUrl, buildOutboundMediaLoadOptions({
        ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
        ...(mediaLocalRoots === undefined ? {} : { mediaLocalRoots: [...mediaLocalRoots] }),
        ...(mediaReadFile === undefined ? {} : { mediaReadFile }),
        ...(mediaAccess === undefined ? {} : { mediaAccess: { ...mediaAccess, ...(mediaAccess.localRoots === undefined ? {} : { localRoots: [...mediaAccess.localRoots] }) } })
      }))
    },
    catch: (error) => new MediaNotSent({ name, kind: kindOf(mimeTypeFromFilePath(name)), detail: error instanceof Error ? error.message : String(error) })
  })
  const mimeType = loaded.contentType ?? mimeTypeFromFilePath(name)
  return {
    _tag: "Media",
    kind: kindOf(mimeType),
    bytes: new Uint8Array(loaded.buffer.buffer, loaded.buffer.byteOffset, loaded.buffer.byteLength),
    filename: loaded.fileName ?? name,
    ...(mimeType === undefined ? {} : { mimeType })
  } satisfies ReplyMedia as ReplyMedia
})

/** The wire's kind for a MIME type, as OpenClaw classifies it: its images and stickers are images. */
const kindOf = (mimeType: string | undefined): MediaKind => {
  const kind = mediaKindFromMime(mimeType)
  return kind === "image" || kind === "sticker" ? "image" : kind === "video" ? "video" : "file"
}

/** The last segment of a path or URL, for the reply's sentence and the file's name. */
const nameOf = (mediaUrl: string): string => {
  const path = URL.canParse(mediaUrl) ? new URL(mediaUrl).pathname : mediaUrl
  return path.split(/[\\/]/).filter((segment) => segment !== "").at(-1) ?? "file"
}

/**
 * The media of one reply: each URL of a delivery not sent before becomes a piece; one that cannot
 * be loaded is logged, and said in a sentence at the end of the reply's text (`unsent`).
 */
export class ReplyMediaSender {
  private readonly urls = new ReplyMediaUrls()
  private readonly notSent: Array<MediaNotSent> = []
  private readonly cfg: unknown
  private readonly accountId: string
  private readonly agentId: string
  /** Where the agent may load from and how much: looked up at the first medium (most replies have none). */
  private resolved: { readonly access: LoadAccess; readonly maxBytes: number | undefined } | undefined

  constructor(cfg: unknown, accountId: string, agentId: string) {
    this.cfg = cfg
    this.accountId = accountId
    this.agentId = agentId
  }

  private get options() {
    return this.resolved ??= { access: agentAccess(this.cfg, this.agentId), maxBytes: mediaSettings(this.cfg, this.accountId).maxBytes }
  }

  /** The pieces for the media of one delivery (or partial) of the host. */
  pieces(payload: { readonly mediaUrl?: string | undefined; readonly mediaUrls?: ReadonlyArray<string> | undefined }): Effect.Effect<Array<ReplyMedia>> {
    return Effect.forEach(this.urls.fresh(payload), (url) =>
      toReplyMedia(url, this.options).pipe(
        Effect.map((piece) => [piece]),
        Effect.catchTag("MediaNotSent", (error) => {
          this.notSent.push(error)
          return Effect.as(Effect.logWarning(`Could not send ${error.name}: ${error.detail}`), [])
        })
      )).pipe(Effect.map((pieces) => pieces.flat()))
  }

  /** The text that ends the reply when some media could not be sent, after the reply's `text` so far. */
  unsent(text: string): string | undefined {
    if (this.notSent.length === 0) return undefined
    return `${text.trim() === "" ? "" : "\n\n"}${this.notSent.map((error) => error.sentence).join("\n")}`
  }
}
