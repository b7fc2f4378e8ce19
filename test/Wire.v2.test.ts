/**
 * Protocol v2's envelope kinds (docs/PROTOCOL.md §6–§7): `hello` and `ack` decode to envelopes
 * of their own, built by `helloFrame`/`ackFrame` on either side; unknown features and fields pass
 * through; a malformed one is an error naming the field; other kinds stay ignorable.
 */
import { Result } from "effect"
import * as fc from "fast-check"
import { assert, describe, it } from "vitest"
import * as Protocol from "../src/Protocol.ts"

const decode = (frame: string) => Result.getOrThrow(Protocol.decodeFrame(frame))
const errorOf = (frame: string) => {
  const result = Protocol.decodeFrame(frame)
  assert.isTrue(Result.isFailure(result), `refused: ${frame}`)
  return (result as Result.Failure<Protocol.Envelope, Protocol.ProtocolDecodeError>).failure.message
}

describe("Wire: protocol v2 envelopes", () => {
  it("helloFrame decodes to a hello envelope and encodes back to the same text", () => {
    const frame = Protocol.helloFrame({ messageId: "msg_1_a", timestamp: 1, features: ["ack", "media"] })
    assert.strictEqual(frame, `{"type":"hello","headers":{"messageId":"msg_1_a","timestamp":1},"data":"{\\"protocol\\":2,\\"features\\":[\\"ack\\",\\"media\\"]}"}`)
    const envelope = decode(frame)
    assert.isTrue(Protocol.isHelloEnvelope(envelope))
    assert.isFalse(Protocol.isMessageEnvelope(envelope))
    assert.deepStrictEqual((envelope as Protocol.HelloEnvelope).data, { protocol: 2, features: ["ack", "media"] })
    assert.strictEqual(Protocol.encodeFrame(envelope), frame)
  })

  it("a server's hello may offer an upload URL", () => {
    const frame = Protocol.helloFrame({ messageId: "m", timestamp: 1, features: [], upload: { url: "https://up.example/u" } })
    assert.deepStrictEqual((decode(frame) as Protocol.HelloEnvelope).data.upload, { url: "https://up.example/u" })
  })

  it("ackFrame decodes to an ack envelope with the response_id", () => {
    const frame = Protocol.ackFrame({ messageId: "msg_2_b", timestamp: 2, conversationId: "conv_9", responseId: "resp_x" })
    const envelope = decode(frame)
    assert.isTrue(Protocol.isAckEnvelope(envelope))
    assert.deepStrictEqual(envelope, {
      type: "ack",
      headers: { messageId: "msg_2_b", timestamp: 2, conversationId: "conv_9" },
      data: { response_id: "resp_x" }
    })
    assert.strictEqual(Protocol.encodeFrame(envelope), frame)
  })

  it("a later peer's hello decodes: unknown features and fields are kept, to be ignored", () => {
    const data = { protocol: 3, features: ["ack", "telepathy"], upload: { url: "https://u", maxBytes: 5 }, region: "eu" }
    const envelope = decode(JSON.stringify({ type: "hello", headers: { messageId: "m", timestamp: 1, extra: true }, data: JSON.stringify(data) }))
    assert.deepStrictEqual((envelope as Protocol.HelloEnvelope).data, data)
  })

  it("a malformed hello or ack is an error that names the field", () => {
    assert.include(errorOf(JSON.stringify({ type: "hello", headers: { messageId: "m", timestamp: 1 }, data: "{\"protocol\":2}" })), "[\"features\"]")
    assert.include(errorOf(JSON.stringify({ type: "ack", headers: { messageId: "m", timestamp: 1 }, data: "{}" })), "[\"response_id\"]")
    const long = errorOf(Protocol.ackFrame({ messageId: "m", timestamp: 1, conversationId: "c", responseId: "r".repeat(300) }))
    assert.include(long, "at most 256")
    assert.notInclude(long, "rrrrrrrr", "the error never echoes the value")
  })

  it("other kinds still decode as envelopes to ignore; messages decode as before", () => {
    const other = decode(JSON.stringify({ type: "presence", headers: { messageId: "m", timestamp: 1 }, data: "whatever" }))
    assert.isFalse(Protocol.isHelloEnvelope(other) || Protocol.isAckEnvelope(other) || Protocol.isMessageEnvelope(other))
    const message = decode(JSON.stringify({
      type: "message",
      headers: { messageId: "m", timestamp: 1, conversationId: "c" },
      data: JSON.stringify({ type: "response.output_text.delta", sequence_number: 1, response_id: "r", delta: "hi" })
    }))
    assert.isTrue(Protocol.isMessageEnvelope(message))
  })

  it("any hello and ack the builders make decode to what they were given", () => {
    const id = fc.string({ minLength: 1, maxLength: 256 })
    fc.assert(fc.property(id, fc.nat(), fc.array(fc.string()), (messageId, timestamp, features) => {
      const hello = decode(Protocol.helloFrame({ messageId, timestamp, features })) as Protocol.HelloEnvelope
      assert.deepStrictEqual([hello.type, hello.headers, hello.data], ["hello", { messageId, timestamp }, { protocol: 2, features }])
    }))
    fc.assert(fc.property(id, fc.nat(), id, id, (messageId, timestamp, conversationId, responseId) => {
      const ack = decode(Protocol.ackFrame({ messageId, timestamp, conversationId, responseId })) as Protocol.AckEnvelope
      assert.deepStrictEqual([ack.type, ack.headers, ack.data], ["ack", { messageId, timestamp, conversationId }, { response_id: responseId }])
    }))
  })
})
