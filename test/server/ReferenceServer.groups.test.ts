/**
 * The reference server plays group chats (docs/PROTOCOL.md §8.2) and keeps §6's rule: group
 * traffic only to a client whose hello agreed on `groups` — any other is refused with
 * `FeatureNotAgreedError`, sent nothing and kept nothing. A reply's events carry the message it
 * quotes. `insta-claw serve`'s line syntax (`fromServeLine`). Real sockets on 127.0.0.1 with a
 * plain `ws` client; time on TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Protocol from "../../src/Protocol.ts"
import { FeatureNotAgreedError, SERVER_FEATURES } from "../../src/server/ReferenceServer.ts"
import { featuresNeeded, fromServeLine, type UserMessage } from "../../src/server/UserMessage.ts"
import { startServer, waitFor } from "../support/harness.ts"
import { describeFrames, envelopeOf, plainClient } from "./client.ts"

/** A short message is nine frames in the full profile. */
const FRAMES = 9

const groupMessage: UserMessage = {
  conversationId: "grp_1",
  text: "hi @agent",
  senderId: "ada",
  senderName: "Ada",
  chatType: "group",
  groupName: "Book club",
  mentioned: true,
  replyToId: "resp_earlier",
  replyToText: "what do we read next?"
}

const headersOf = (frame: string) => (envelopeOf(frame) as Protocol.MessageEnvelope).headers

describe("ReferenceServer, group chats", () => {
  it("offers groups in its hello", () => {
    assert.include(SERVER_FEATURES, "groups")
  })

  it.effect("a group message goes to a client that agreed on groups, with its headers on every envelope", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["ack", "groups"] })
      const [hello] = yield* client.take(1)
      assert.deepStrictEqual((envelopeOf(hello!) as Protocol.HelloEnvelope).data.features, ["ack", "groups"])
      const { responseId } = yield* server.sendUserMessage(groupMessage)
      const frames = yield* client.take(FRAMES)
      assert.deepStrictEqual(describeFrames(frames).map((line) => line.split(" ")[1]), Array(FRAMES).fill(responseId))
      for (const frame of frames) {
        const { chatType, conversationId, groupName, mentioned, replyToId, replyToText, senderId, senderName } = headersOf(frame)
        assert.deepStrictEqual(
          { chatType, conversationId, groupName, mentioned, replyToId, replyToText, senderId, senderName },
          {
            chatType: "group",
            conversationId: "grp_1",
            groupName: "Book club",
            mentioned: true,
            replyToId: "resp_earlier",
            replyToText: "what do we read next?",
            senderId: "ada",
            senderName: "Ada"
          }
        )
      }
    }))

  it.effect("a message without group headers looks as before: no §8.2 header at all", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["ack", "groups"] })
      yield* client.take(1)
      yield* server.sendUserMessage({ conversationId: "c", text: "hi", senderId: "u1" })
      const headers = headersOf((yield* client.take(FRAMES))[0]!)
      assert.deepStrictEqual(Object.keys(headers).sort(), ["conversationId", "messageId", "senderId", "timestamp"])
    }))

  for (const [name, hello] of [["a hello without groups", ["ack"]], ["no hello (v1)", undefined]] as const) {
    it.effect(`a client with ${name} is refused group traffic: FeatureNotAgreedError, nothing sent, nothing kept`, () =>
      Effect.gen(function*() {
        const { events, server } = yield* startServer()
        const client = yield* plainClient(server.url, hello === undefined ? {} : { hello })
        if (hello !== undefined) yield* client.take(1)
        else yield* waitFor(events, "ClientConnected")
        const error = yield* Effect.flip(server.sendUserMessage(groupMessage))
        assert.instanceOf(error, FeatureNotAgreedError)
        assert.deepStrictEqual([error.clientId, error.feature], ["demo", "groups"])
        assert.include(error.message, `has not agreed on "groups"`)
        // A direct reply (replyToId alone) is §8.2 traffic too.
        const direct = yield* Effect.flip(server.sendUserMessage({ conversationId: "c", text: "re", replyToId: "resp_x" }))
        assert.strictEqual(direct._tag, "FeatureNotAgreedError")
        assert.strictEqual(yield* server.unacknowledged, 0)
        // The next frames the client gets are a plain message's: nothing of the refused ones.
        const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
        assert.deepStrictEqual(new Set(describeFrames(yield* client.take(FRAMES)).map((line) => line.split(" ")[1])), new Set([marker.responseId]))
      }))
  }

  it.effect("with no client ever connected, a group message is refused at once (it does not wait for a link)", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      const error = yield* Effect.flip(server.sendUserMessage(groupMessage))
      assert.strictEqual(error._tag, "FeatureNotAgreedError")
    }))

  it.effect("a server that does not offer groups refuses them even to a client that lists groups", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({ features: ["ack"] })
      const client = yield* plainClient(server.url, { hello: ["ack", "groups"] })
      assert.deepStrictEqual((envelopeOf((yield* client.take(1))[0]!) as Protocol.HelloEnvelope).data.features, ["ack"])
      assert.strictEqual((yield* Effect.flip(server.sendUserMessage(groupMessage)))._tag, "FeatureNotAgreedError")
    }))

  it.effect("a group message kept for an absent client goes only to a later link that agreed on groups", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const first = yield* plainClient(server.url, { hello: ["ack", "groups"] })
      yield* first.take(1)
      yield* first.close
      yield* waitFor(events, "ClientDisconnected")
      const kept = yield* server.sendUserMessage(groupMessage)
      assert.isTrue(kept.queued)
      // A link whose hello left groups out gets its hello and nothing else; the message stays owed.
      const without = yield* plainClient(server.url, { hello: ["ack"] })
      yield* without.take(1)
      yield* waitFor(events, "Hello")
      const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.deepStrictEqual(new Set(describeFrames(yield* without.take(FRAMES)).map((line) => line.split(" ")[1])), new Set([marker.responseId]))
      yield* without.ack(marker.responseId)
      yield* waitFor(events, "Acked")
      assert.strictEqual(yield* server.unacknowledged, 1)
      yield* without.close
      yield* waitFor(events, "ClientDisconnected")
      // The next link that agrees on groups gets it.
      const withGroups = yield* plainClient(server.url, { hello: ["ack", "groups"] })
      const frames = yield* withGroups.take(1 + FRAMES)
      assert.deepStrictEqual(new Set(describeFrames(frames.slice(1)).map((line) => line.split(" ")[1])), new Set([kept.responseId]))
      assert.strictEqual(headersOf(frames[1]!).chatType, "group")
    }))

  it.effect("a reply's events carry the replyToId its envelopes give, from the first that says so; one without has none", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["ack", "groups"] })
      yield* client.take(1)
      const protocol = Protocol.make()
      // The ReplyTo piece comes after the response began: created and in_progress carry no replyToId.
      const quoting = yield* Stream.runCollect(
        protocol.streamReply({ conversationId: "grp_1" }, Stream.make({ _tag: "ReplyTo", replyToId: "resp_user_q" } as const, "I quote you"))
      )
      assert.isUndefined(headersOf(quoting[0]!.json).replyToId)
      for (const frame of quoting) yield* client.send(frame.json)
      const delta = yield* waitFor(events, "ReplyDelta")
      const completed = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([delta.replyToId, completed.replyToId, completed.text], ["resp_user_q", "resp_user_q", "I quote you"])
      const plain = yield* Stream.runCollect(protocol.streamReply({ conversationId: "grp_1" }, "no quote"))
      for (const frame of plain) yield* client.send(frame.json)
      const next = yield* waitFor(events, "ReplyCompleted")
      assert.strictEqual(next.text, "no quote")
      assert.isFalse("replyToId" in next)
    }))
})

describe("featuresNeeded", () => {
  it("groups for a group message or any other §8.2 header; nothing for a plain or plainly direct one", () => {
    const base = { conversationId: "c", text: "t" }
    assert.deepStrictEqual(featuresNeeded(base), [])
    assert.deepStrictEqual(featuresNeeded({ ...base, chatType: "direct", senderName: "Ada" }), [])
    assert.deepStrictEqual(featuresNeeded({ ...base, chatType: "group" }), ["groups"])
    for (const extra of [{ groupName: "g" }, { mentioned: false }, { replyToId: "resp_1" }, { replyToText: "q" }]) {
      assert.deepStrictEqual(featuresNeeded({ ...base, ...extra }), ["groups"], JSON.stringify(extra))
    }
  })
})

describe("insta-claw serve's lines (fromServeLine)", () => {
  it("a plain line goes to conv_1, '@conv_2 text' to another direct chat", () => {
    assert.deepStrictEqual(fromServeLine("hello there"), { conversationId: "conv_1", text: "hello there" })
    assert.deepStrictEqual(fromServeLine("@conv_2 hi: you"), { conversationId: "conv_2", text: "hi: you" })
  })

  it("'#grp_1 ada: text' is said in the group by ada, mentioned only when the text has the word @agent", () => {
    assert.deepStrictEqual(fromServeLine("#grp_1 ada: hello @agent, see this"), {
      conversationId: "grp_1",
      text: "hello @agent, see this",
      senderId: "ada",
      senderName: "ada",
      chatType: "group",
      groupName: "grp_1",
      mentioned: true
    })
    const quiet = fromServeLine("#grp_1 ada: hello everyone")
    assert.strictEqual(quiet.text, "hello everyone")
    assert.isFalse("mentioned" in quiet, "absent, not false: the server cannot tell")
    assert.isFalse("mentioned" in fromServeLine("#grp_1 ada: mail @agents list"), "@agents is not @agent")
    assert.isTrue(fromServeLine("#grp_1 ada: @Agent hi").mentioned)
  })

  it("'#grp_1 text' without a sender is said by user", () => {
    const line = fromServeLine("#grp_1 hi there")
    assert.deepStrictEqual([line.conversationId, line.senderId, line.text, line.chatType], ["grp_1", "user", "hi there", "group"])
  })
})
