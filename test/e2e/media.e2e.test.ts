/**
 * Photos, voice notes and files through a real OpenClaw gateway (issue 25): the plugin installed
 * from its tarball, a fake model on 127.0.0.1 that declares image input, the reference server
 * playing InstaClaw and serving the users' media over loopback http (the plugin fetches loopback
 * media only because its server is on loopback). Nothing reaches another host: the one https URL
 * is on `.invalid`, a name that never resolves (OpenClaw's `MEDIA:` parser refuses loopback and
 * private hosts, so it cannot be 127.0.0.1), and nothing fetches it — the plugin sends an https
 * URL as it is, and OpenClaw passes remote media through. Every process started here is stopped.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { crc32, deflateSync } from "node:zlib"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { MediaPart } from "../../src/Media.ts"
import type { ServerEvent } from "../../src/server/ReferenceServer.ts"
import { validateEvent } from "../support/openResponsesSchema.ts"
import { type Gateway, startFakeModel, startGateway, startReferenceServer } from "./support.ts"

type Tagged<T extends ServerEvent["_tag"]> = Extract<ServerEvent, { readonly _tag: T }>
const is = <T extends ServerEvent["_tag"]>(tag: T, where: (event: Tagged<T>) => boolean = () => true) =>
  (event: ServerEvent): event is Tagged<T> => event._tag === tag && where(event as Tagged<T>)

/** A PNG of `size`×`size` pixels of one colour (a real image, so the host can read it for the model). */
const png = (size: number, rgb: readonly [number, number, number]): Buffer => {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data])
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8 bits per channel, RGB
  const row = Buffer.concat([Buffer.from([0]), ...Array.from({ length: size }, () => Buffer.from(rgb))])
  const pixels = deflateSync(Buffer.concat(Array.from({ length: size }, () => row)))
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))])
}

let model: Awaited<ReturnType<typeof startFakeModel>>
let instaclaw: Awaited<ReturnType<typeof startReferenceServer>>
let gateway: Gateway
/** An https URL the agent names (never fetched). */
const httpsUrl = "https://media.invalid/cat.png"

beforeAll(async () => {
  model = await startFakeModel()
  instaclaw = await startReferenceServer()
  gateway = await startGateway({
    modelPort: model.port,
    instaclawUrl: instaclaw.server.url,
    secondUrl: instaclaw.server.url,
    modelInput: ["text", "image"],
    channel: {
      clientId: "e2e-app",
      clientSecret: "e2e-secret-5d2c",
      url: instaclaw.server.url,
      // 1 MB: a 2 MB file is refused with a notice.
      mediaMaxMb: 1,
      streaming: { block: { enabled: true } }
    }
  })
  await Promise.race([
    instaclaw.waitFor(is("Hello", (hello) => hello.features.includes("media"))),
    gateway.exited.then((code) => {
      throw new Error(`the gateway exited (${code}) before connecting:\n${gateway.output()}`)
    })
  ])
})

afterAll(async () => {
  await gateway?.stop()
  await instaclaw?.close()
  await model?.close()
})

/** Sends a user message and waits for the agent's completed reply in that conversation. */
const exchange = async (conversationId: string, text: string, media?: ReadonlyArray<MediaPart>) => {
  const from = instaclaw.events.length
  const requestsBefore = model.requests.length
  await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId, text, senderId: `user_${conversationId}`, ...(media === undefined ? {} : { media }) }))
  const done = await instaclaw.waitFor(is("ReplyCompleted", (event) => event.conversationId === conversationId), from)
  return { done, from, requests: model.requests.slice(requestsBefore) }
}

/** Every event of a response, checked against the Open Responses schema. */
const eventsOf = (from: number, responseId: string) =>
  instaclaw.events.slice(from).filter(is("Frame")).map((frame) => JSON.parse(JSON.parse(frame.json).data)).filter((event) => event.response_id === responseId)

const served = (bytes: Uint8Array, mimeType: string) => instaclaw.run(instaclaw.server.putMedia(bytes, mimeType))

describe("media through a real OpenClaw gateway", () => {
  it("a user's image reaches the model request as an image", async () => {
    const url = await served(png(32, [200, 30, 30]), "image/png")
    const { done, requests } = await exchange("conv_img", "MARK-IMG1 what colour is this?", [{ kind: "image", url, mimeType: "image/png" }])
    assert.strictEqual(done.text.split("\n")[0], "Model reply for MARK-IMG1.")
    const request = requests.find((body) => body.includes("MARK-IMG1"))
    assert.isDefined(request, "the model was asked")
    const parsed = JSON.parse(request!) as { messages: Array<{ content: unknown }> }
    const images = parsed.messages.flatMap((message) => Array.isArray(message.content) ? message.content : []).filter((part: { type?: string }) => part.type === "image_url")
    assert.strictEqual(images.length, 1, request)
    assert.match(images[0].image_url.url, /^data:image\/(png|jpeg);base64,/)
  })

  it("an image-only message is answered", async () => {
    const url = await served(png(24, [20, 160, 40]), "image/png")
    const { done, requests } = await exchange("conv_imgonly", "", [{ kind: "image", url, mimeType: "image/png" }])
    assert.strictEqual(done.text.split("\n")[0], "Model reply for no marker.")
    assert.isTrue(requests.some((body) => body.includes("\"image_url\"")), "the model got the image")
  })

  it("a file over mediaMaxMb is refused with a notice the agent reads, and the message is still answered", async () => {
    const url = await served(new Uint8Array(2 * 1024 * 1024).fill(65), "application/octet-stream")
    const { done, requests } = await exchange("conv_big", "MARK-BIG1 here is the file", [{ kind: "file", url, filename: "big.bin", mimeType: "application/octet-stream" }])
    assert.strictEqual(done.text.split("\n")[0], "Model reply for MARK-BIG1.")
    const request = requests.find((body) => body.includes("MARK-BIG1"))
    assert.include(request, "[file unavailable: larger than the 1 MB limit]")
    const log = `${gateway.output()}${existsSync(gateway.logFile) ? readFileSync(gateway.logFile, "utf8") : ""}`
    assert.include(log, "Could not take the file", "the log says why")
  })

  it("an agent's reply with a local image (a MEDIA: line) arrives as an input_image part after the text", async () => {
    const workspace = join(gateway.stateDir, "workspace")
    mkdirSync(workspace, { recursive: true })
    const chart = join(workspace, "chart.png")
    writeFileSync(chart, png(16, [10, 10, 250]))
    model.replies.set("MARK-LOCAL1", `Here is the chart.\nMEDIA:${chart}`)
    const { done, from } = await exchange("conv_local", "MARK-LOCAL1 send me the chart")
    assert.strictEqual(done.text.trim(), "Here is the chart.")
    assert.deepStrictEqual(done.media?.map((media) => media.kind), ["image"], JSON.stringify(done))
    assert.match(done.media![0]!.url, /^data:image\/png;base64,/)
    const events = eventsOf(from, done.responseId)
    assert.deepStrictEqual(events.flatMap(validateEvent), [])
    const completed = events.find((event) => event.type === "response.completed")
    assert.deepStrictEqual(completed.response.output.at(-1).content.map((part: { type: string }) => part.type), ["output_text", "input_image"])
  })

  it("an agent's reply with an https URL arrives as an input_image part with that URL", async () => {
    model.replies.set("MARK-URL1", `A cat, as asked.\nMEDIA:${httpsUrl}`)
    const { done } = await exchange("conv_url", "MARK-URL1 a cat please")
    assert.strictEqual(done.text.trim(), "A cat, as asked.")
    // An input_image carries its URL only (no filename on the wire).
    assert.deepStrictEqual(done.media?.map((media) => [media.kind, media.url]), [["image", httpsUrl]])
  })

  it("openclaw message send --media sends the text and the file", async () => {
    const workspace = join(gateway.stateDir, "workspace")
    mkdirSync(workspace, { recursive: true })
    const photo = join(workspace, "photo.png")
    writeFileSync(photo, png(8, [250, 250, 0]))
    const from = instaclaw.events.length
    // The CLI alone takes tens of seconds on a busy two-core machine.
    const sent = await gateway.cli(["message", "send", "--channel", "instaclaw", "--target", "conv_send", "--message", "see attached", "--media", photo], { timeoutMs: 110_000 })
    assert.strictEqual(sent.code, 0, sent.output)
    const done = await instaclaw.waitFor(is("ReplyCompleted", (event) => event.conversationId === "conv_send"), from)
    assert.strictEqual(done.text, "see attached")
    assert.deepStrictEqual(done.media?.map((media) => media.kind), ["image"])
    assert.match(done.media![0]!.url, /^data:image\/png;base64,/)
  })
})
