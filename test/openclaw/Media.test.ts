/**
 * Media through OpenClaw (`src/openclaw/Media.ts`): a user's media saved into the host's media
 * store (faked the way OpenClaw's behaves) within the account's limit, a notice for each one
 * lost; a reply's media URLs each sent once, an https URL as it is, a local file loaded with the
 * SDK's own `loadWebMedia` within the agent's roots. Media are served from 127.0.0.1 only.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, Stream } from "effect"
import { Buffer } from "node:buffer"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AgentRequest, ReplyPiece } from "../../src/Agent.ts"
import type { MediaPart, ReplyMedia } from "../../src/Media.ts"
import * as Channel from "../../src/openclaw/Channel.ts"
import * as Media from "../../src/openclaw/Media.ts"
import * as OpenClawAgent from "../../src/openclaw/OpenClawAgent.ts"
import { ReferenceServer } from "../../src/server/ReferenceServer.ts"
import { fakeGatewayContext, fakeMediaStore, fakeRuntime, within } from "../support/fakeOpenClaw.ts"
import * as Harness from "../support/harness.ts"

/** A 1×1 PNG. */
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64")
const BIG = Buffer.alloc(20_000, 7)

/** A scratch directory, removed with the test's scope. */
const scratch = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "instaclaw-media-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Serves /cat.png, /big.bin and 404 for anything else on 127.0.0.1; counts requests; closed with the scope. */
const mediaServer = Effect.acquireRelease(
  Effect.promise(async () => {
    const requests: Array<string> = []
    const server = http.createServer((request, response) => {
      requests.push(request.url ?? "")
      if (request.url === "/cat.png") return response.writeHead(200, { "content-type": "image/png" }).end(PNG)
      if (request.url === "/big.bin") return response.writeHead(200, { "content-type": "application/octet-stream" }).end(BIG)
      response.writeHead(404).end("no such file")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

/** A config with the channel on `url` (loopback unless said otherwise), and more of its keys. */
const cfgOf = (channel: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  channels: { instaclaw: { clientId: "demo", clientSecret: "demo-secret", url: "ws://127.0.0.1:9/user-ws/", ...channel } },
  ...rest
})

/** Runs `effect` with its warnings kept in `lines`. */
const logged = <A, E>(effect: Effect.Effect<A, E>) => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => lines.push(`${logLevel}: ${(message as ReadonlyArray<unknown>).join(" ")}`))
  return Effect.map(effect.pipe(Effect.provide(Logger.layer([logger]))), (result) => ({ result, lines }))
}

const receiving = (media: ReadonlyArray<MediaPart>, store: Media.HostMediaStore | undefined, cfg: unknown, text = "") =>
  logged(Media.receive({ text, media, messageId: "msg_1", store, cfg, accountId: "default" }))

describe("a user's media, saved into the host's media store", () => {
  it.live("an image and a data: URL file are saved within the account's limit and become the context's media, in order", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const { base } = yield* mediaServer
      const { calls, store } = fakeMediaStore(dir)
      const voice = `data:audio/ogg;base64,${Buffer.from("OggS voice").toString("base64")}`
      const { result } = yield* receiving([
        { kind: "image", url: `${base}/cat.png`, mimeType: "image/png" },
        { kind: "file", url: voice, mimeType: "audio/ogg", filename: "note.ogg" }
      ], store, cfgOf({ mediaMaxMb: 2 }), "look")
      assert.strictEqual(result.body, "look")
      assert.deepStrictEqual(result.facts.map((fact) => [fact.kind, fact.contentType, fact.fileName, fact.messageId]), [
        ["image", "image/png", "cat.png", "msg_1"],
        ["audio", "audio/ogg", "note.ogg", "msg_1"]
      ])
      assert.deepStrictEqual(readFileSync(result.facts[0]!.path!), PNG)
      assert.strictEqual(readFileSync(result.facts[1]!.path!, "utf8"), "OggS voice")
      assert.strictEqual(result.facts[0]!.url, `${base}/cat.png`)
      assert.isUndefined(result.facts[1]!.url, "a data: URL is not carried along: the stored file stands for it")
      assert.deepStrictEqual(calls.map((call) => [call.method, call.maxBytes]), [["saveRemoteMedia", 2 * 1024 * 1024], ["saveMediaBuffer", 2 * 1024 * 1024]])
    }))

  it.live("a media-only message keeps an empty body", () =>
    Effect.gen(function*() {
      const { base } = yield* mediaServer
      const { store } = fakeMediaStore(yield* scratch)
      const { result } = yield* receiving([{ kind: "image", url: `${base}/cat.png` }], store, cfgOf())
      assert.strictEqual(result.body, "")
      assert.strictEqual(result.facts.length, 1)
    }))

  it.live("too big, not found: each is a notice after the text, the rest is still saved, and each is logged", () =>
    Effect.gen(function*() {
      const { base } = yield* mediaServer
      const { store } = fakeMediaStore(yield* scratch)
      const { lines, result } = yield* receiving([
        { kind: "file", url: `${base}/big.bin`, filename: "big.bin" },
        { kind: "image", url: `${base}/cat.png` },
        { kind: "file", url: `${base}/gone.pdf` },
        { kind: "image", url: `data:image/png;base64,${BIG.toString("base64")}` }
      ], store, cfgOf({ mediaMaxMb: 0.01 }), "see these")
      assert.strictEqual(
        result.body,
        "see these\n\n[file unavailable: larger than the 0.01 MB limit]\n[file unavailable: not found (HTTP 404)]\n[image unavailable: larger than the 0.01 MB limit]"
      )
      assert.deepStrictEqual(result.facts.map((fact) => fact.fileName), ["cat.png"])
      const warnings = lines.filter((line) => line.startsWith("Warn"))
      assert.strictEqual(warnings.length, 3, lines.join("\n"))
      assert.include(warnings[0]!, "exceeds maxBytes 10485")
      assert.include(warnings[1]!, "HTTP 404")
      assert.include(warnings[2]!, "a data: URL (image/png, 20000 bytes)")
      assert.notInclude(lines.join("\n"), BIG.toString("base64").slice(0, 40), "no bytes in the log")
    }))

  it.live("a media-only message whose media are lost becomes the notices, so the agent still answers it", () =>
    Effect.gen(function*() {
      const { base } = yield* mediaServer
      const { store } = fakeMediaStore(yield* scratch)
      const { result } = yield* receiving([{ kind: "image", url: `${base}/gone.png` }, { kind: "file", url: `${base}/gone.ogg`, mimeType: "audio/ogg" }], store, cfgOf())
      // A voice note is named as audio.
      assert.strictEqual(result.body, "[image unavailable: not found (HTTP 404)]\n[audio unavailable: not found (HTTP 404)]")
      assert.deepStrictEqual(result.facts, [])
    }))

  it.live("only https is fetched; loopback http only for an account whose server is on loopback", () =>
    Effect.gen(function*() {
      const { base, requests } = yield* mediaServer
      const { calls, store } = fakeMediaStore(yield* scratch)
      const remote = cfgOf({ url: "wss://chat.example/user-ws/" })
      const { result } = yield* receiving([
        { kind: "image", url: `${base}/cat.png` },
        { kind: "file", url: "http://files.example/report.pdf" },
        { kind: "file", url: "ftp://files.example/report.pdf" }
      ], store, remote)
      assert.strictEqual(result.body, ["image", "file", "file"].map((kind) => `[${kind} unavailable: not an https:// link]`).join("\n"))
      assert.deepStrictEqual(calls, [], "nothing was fetched")
      assert.deepStrictEqual(requests, [])
      // https goes to the store with https required (a redirect to http fails there).
      const secure = yield* receiving([{ kind: "image", url: "https://files.example/cat.png" }], {
        ...store,
        saveRemoteMedia: async (options) => {
          assert.deepStrictEqual(options, { url: "https://files.example/cat.png", requireHttps: true })
          return { path: "/media/cat.png", size: 1, contentType: "image/png" }
        }
      }, remote)
      assert.deepStrictEqual(secure.result.facts.map((fact) => fact.path), ["/media/cat.png"])
    }))

  it.live("the loopback host is allowed by name for that one fetch; the host's SSRF guard stays on for the rest", () =>
    Effect.gen(function*() {
      const { base } = yield* mediaServer
      const seen: Array<unknown> = []
      const { store } = fakeMediaStore(yield* scratch)
      yield* receiving([{ kind: "image", url: `${base}/cat.png`, filename: "cat.png", mimeType: "image/png" }], {
        ...store,
        saveRemoteMedia: (options) => {
          seen.push(options)
          return store.saveRemoteMedia(options)
        }
      }, cfgOf())
      assert.deepStrictEqual(seen, [{ url: `${base}/cat.png`, ssrfPolicy: { allowedHostnames: ["127.0.0.1"] }, originalFilename: "cat.png", fallbackContentType: "image/png" }])
    }))

  it("the limit: the account's mediaMaxMb, inherited from the channel, else OpenClaw's agents.defaults.mediaMaxMb, else the store's own", () => {
    const mb = 1024 * 1024
    assert.strictEqual(Media.mediaSettings(cfgOf({ mediaMaxMb: 3 }, { agents: { defaults: { mediaMaxMb: 9 } } }), "default").maxBytes, 3 * mb)
    assert.strictEqual(Media.mediaSettings(cfgOf({}, { agents: { defaults: { mediaMaxMb: 9 } } }), "default").maxBytes, 9 * mb)
    assert.isUndefined(Media.mediaSettings(cfgOf(), "default").maxBytes)
    const accounts = cfgOf({ mediaMaxMb: 3, accounts: { eu: { clientId: "eu", mediaMaxMb: 1.5 }, us: { clientId: "us" } } })
    assert.strictEqual(Media.mediaSettings(accounts, "eu").maxBytes, 1.5 * mb)
    assert.strictEqual(Media.mediaSettings(accounts, "us").maxBytes, 3 * mb)
    assert.isTrue(Media.mediaSettings(cfgOf(), "default").loopbackServer)
    assert.isFalse(Media.mediaSettings(cfgOf({ url: "wss://chat.example/user-ws/" }), "default").loopbackServer)
  })

  it.effect("a host without a media store: a notice, nothing else", () =>
    Effect.gen(function*() {
      const { result } = yield* receiving([{ kind: "image", url: "https://files.example/cat.png" }], undefined, cfgOf(), "hi")
      assert.strictEqual(result.body, "hi\n\n[image unavailable: this OpenClaw cannot store media]")
    }))
})

describe("a reply's media", () => {
  it("each URL once per reply: a final repeating the blocks' media, a payload delivered twice", () => {
    const urls = new Media.ReplyMediaUrls()
    assert.deepStrictEqual(urls.fresh({ mediaUrl: "https://a.example/1.png" }), ["https://a.example/1.png"])
    assert.deepStrictEqual(urls.fresh({ mediaUrls: ["https://a.example/1.png", " /tmp/2.png ", ""] }), ["/tmp/2.png"])
    assert.deepStrictEqual(urls.fresh({ mediaUrls: ["/tmp/2.png"], mediaUrl: "https://a.example/1.png" }), [])
    assert.deepStrictEqual(urls.fresh({}), [])
    // As the host reads a payload: mediaUrls when it has any, else mediaUrl.
    assert.deepStrictEqual(new Media.ReplyMediaUrls().fresh({ mediaUrl: "/tmp/x.png", mediaUrls: ["/tmp/y.png"] }), ["/tmp/y.png"])
  })

  it.effect("an https URL goes as it is, its kind and name from its path", () =>
    Effect.gen(function*() {
      const options = { access: {}, maxBytes: undefined }
      const of = (url: string) => Media.toReplyMedia(url, options)
      assert.deepStrictEqual(yield* of("https://cdn.example/a/cat.png?sig=1"), {
        _tag: "Media",
        kind: "image",
        url: "https://cdn.example/a/cat.png?sig=1",
        filename: "cat.png",
        mimeType: "image/png"
      })
      assert.strictEqual((yield* of("https://cdn.example/clip.mp4")).kind, "video")
      assert.strictEqual((yield* of("https://cdn.example/report.pdf")).kind, "file")
    }))

  it.live("a local file within the agent's roots is loaded with loadWebMedia and goes as bytes; one outside them is not sent", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const roots = join(dir, "workspace")
      mkdirSync(roots)
      writeFileSync(join(roots, "chart.png"), PNG)
      const pdf = Buffer.from("%PDF-1.4\n% a report\n")
      writeFileSync(join(roots, "report.pdf"), pdf)
      writeFileSync(join(dir, "secret.pdf"), pdf)
      const options = { access: { mediaLocalRoots: [roots] }, maxBytes: undefined }
      const image = yield* Media.toReplyMedia(join(roots, "chart.png"), options)
      assert.deepStrictEqual({ ...image, bytes: Buffer.from(image.bytes!) }, { _tag: "Media", kind: "image", bytes: PNG, filename: "chart.png", mimeType: "image/png" })
      const file = yield* Media.toReplyMedia(`file://${join(roots, "report.pdf")}`, options)
      assert.deepStrictEqual([file.kind, file.mimeType, file.filename, Buffer.from(file.bytes!).equals(pdf)], ["file", "application/pdf", "report.pdf", true])
      const outside = yield* Effect.flip(Media.toReplyMedia(join(dir, "secret.pdf"), options))
      assert.strictEqual(outside.sentence, "[The file \"secret.pdf\" could not be sent.]")
      assert.include(outside.detail, "not under an allowed directory")
      const missing = yield* Effect.flip(Media.toReplyMedia(join(roots, "gone.png"), options))
      assert.include(missing.detail, "not found")
    }))
})

describe("media through the OpenClaw agent", () => {
  const request = (fields: Partial<AgentRequest> & { readonly media?: ReadonlyArray<MediaPart> }): AgentRequest => ({
    conversationId: "conv_1",
    senderId: "user_1",
    text: "",
    messageId: "msg_m",
    responseId: "resp_m",
    ...fields
  })

  it.live("the user's image reaches the host as the context's media; an image-only message has an empty body", () =>
    Effect.gen(function*() {
      const { base } = yield* mediaServer
      const { store } = fakeMediaStore(yield* scratch)
      const host = fakeRuntime(async ({ deliver }) => void (await deliver({ text: "A cat." }, { kind: "final" })), store)
      const agent = OpenClawAgent.make({ channel: host.channel, cfg: cfgOf(), accountId: "default" })
      const pieces = yield* Stream.runCollect(agent.reply(request({ media: [{ kind: "image", url: `${base}/cat.png`, mimeType: "image/png" }] })))
      assert.deepStrictEqual(pieces, ["A cat."])
      const context = host.contexts[0]!
      assert.strictEqual(context.Body, "")
      const media = context.media as ReadonlyArray<{ readonly path: string; readonly kind: string }>
      assert.deepStrictEqual(media.map((fact) => fact.kind), ["image"])
      assert.deepStrictEqual(readFileSync(media[0]!.path), PNG)
    }))

  it.live("a reply's media follow its text as pieces, each URL once; what cannot be loaded is said at the end", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const host = fakeRuntime(async ({ deliver }) => {
        await deliver({ text: "Here you are.", mediaUrls: ["https://cdn.example/cat.png", join(dir, "nowhere.png")] }, { kind: "block" })
        // A final that repeats the reply and its media, delivered twice.
        await deliver({ text: "Here you are.", mediaUrls: ["https://cdn.example/cat.png", join(dir, "nowhere.png")] }, { kind: "final" })
        await deliver({ text: "Here you are.", mediaUrls: ["https://cdn.example/cat.png", join(dir, "nowhere.png")] }, { kind: "final" })
      })
      const agent = OpenClawAgent.make({ channel: host.channel, cfg: cfgOf(), accountId: "default" })
      const { lines, result } = yield* logged(Stream.runCollect(agent.reply(request({ text: "a cat please" }))))
      assert.deepStrictEqual(result, [
        "Here you are.",
        { _tag: "Media", kind: "image", url: "https://cdn.example/cat.png", filename: "cat.png", mimeType: "image/png" } satisfies ReplyMedia,
        "\n\n[The image \"nowhere.png\" could not be sent.]"
      ] satisfies Array<ReplyPiece>)
      assert.strictEqual(lines.filter((line) => line.includes("Could not send nowhere.png")).length, 1, lines.join("\n"))
    }))

  it.effect("a media-only reply is its media", () =>
    Effect.gen(function*() {
      const host = fakeRuntime(async ({ deliver }) => void (await deliver({ mediaUrl: "https://cdn.example/clip.mp4" }, { kind: "final" })))
      const agent = OpenClawAgent.make({ channel: host.channel, cfg: cfgOf(), accountId: "default" })
      const pieces = yield* Stream.runCollect(agent.reply(request({ text: "a clip" })))
      assert.deepStrictEqual(pieces.map((piece) => (piece as ReplyMedia).kind), ["video"])
    }))
})

describe("outbound.sendMedia (openclaw message send --media)", () => {
  it.live("the text and the medium go as one response: a local file within the host's roots as bytes, an https URL as it is; one outside them is refused with why", () =>
    Effect.gen(function*() {
      const server = Context.get(yield* Layer.build(ReferenceServer.layer({ port: 0 })), ReferenceServer)
      const events = yield* server.subscribe
      const cfg = { channels: { instaclaw: { clientId: "demo", clientSecret: "demo-secret", url: server.url } } }
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      yield* Effect.acquireRelease(
        Effect.sync(() => Channel.startAccount(gateway.ctx, { hostChannel: fakeRuntime(async () => {}).channel })),
        (run) => Effect.suspend(() => {
          gateway.abort.abort()
          return Effect.promise(() => run).pipe(within("the aborted account's stop"))
        })
      )
      yield* gateway.until("the account connected", (status) => status.connected === true)
      const dir = yield* scratch
      const roots = join(dir, "roots")
      mkdirSync(roots)
      writeFileSync(join(roots, "photo.png"), PNG)
      writeFileSync(join(dir, "outside.png"), PNG)
      const completed = () => Harness.waitFor(events, "ReplyCompleted").pipe(within("the reply at the server"))
      const send = (text: string, mediaUrl: string) => Channel.sendText({ to: "conv_out", text, mediaUrl, mediaLocalRoots: [roots], cfg: cfg as never })

      const local = yield* Effect.promise(() => send("see attached", join(roots, "photo.png")))
      const first = yield* completed()
      assert.deepStrictEqual([first.responseId, first.text, first.media?.map((media) => media.kind)], [local.messageId, "see attached", ["image"]])
      assert.strictEqual(first.media![0]!.url, `data:image/png;base64,${PNG.toString("base64")}`)

      yield* Effect.promise(() => send("", "https://cdn.example/report.pdf"))
      const second = yield* completed()
      assert.deepStrictEqual([second.text, second.media], ["", [{ kind: "file", url: "https://cdn.example/report.pdf", filename: "report.pdf" }]])

      const refused = yield* Effect.promise(() => send("x", join(dir, "outside.png")).then(() => "sent", (e: Error) => e.message))
      assert.match(refused, /^Could not send outside\.png: Local media path is not under an allowed directory/)
    }))
})
