/**
 * Group chats end to end (docs/PROTOCOL.md §8.2), the connector against the reference server over
 * real sockets on 127.0.0.1: a group message reaches the agent with its headers; the agent's
 * `admit` skips one that does not concern it — no reply, acknowledged all the same — and a message
 * quoting the agent's own reply reaches it with `replyToAgent`. Time on TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { Agent, type AgentRequest } from "../src/Agent.ts"
import { startConnector, startServer, waitFor } from "./support/harness.ts"

describe("Group chats, connector and reference server", () => {
  it.effect("a group message arrives with its headers; a skipped one is acknowledged and unanswered; a reply to the agent's reply is marked", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const admitted: Array<AgentRequest> = []
      const asked: Array<AgentRequest> = []
      // Answers a group message only when it mentions the agent or replies to it.
      const agent = Layer.succeed(Agent, {
        admit: (request) =>
          Effect.sync(() => {
            admitted.push(request)
            return request.mentioned === true || request.replyToAgent === true
              ? { decision: "answer" as const }
              : { decision: "skip" as const, reason: "not mentioned" }
          }),
        reply: (request) => {
          asked.push(request)
          return Stream.make(`re: ${request.text}`)
        }
      })
      const { logs } = yield* startConnector(server.url, agent, { debug: true })
      const hello = yield* waitFor(events, "Hello")
      assert.include(hello.features, "groups", "the connector's hello lists groups")

      const group = { conversationId: "grp_1", chatType: "group", groupName: "Book club", senderId: "ada", senderName: "Ada" } as const
      const first = yield* server.sendUserMessage({ ...group, text: "hi @agent", mentioned: true, replyToId: "resp_before", replyToText: "earlier" })
      const answered = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([answered.conversationId, answered.text], ["grp_1", "re: hi @agent"])
      const request = asked[0]!
      assert.deepStrictEqual(
        {
          conversationId: request.conversationId,
          responseId: request.responseId,
          text: request.text,
          senderId: request.senderId,
          senderName: request.senderName,
          chatType: request.chatType,
          groupName: request.groupName,
          mentioned: request.mentioned,
          replyToId: request.replyToId,
          replyToText: request.replyToText,
          replyToAgent: request.replyToAgent
        },
        {
          conversationId: "grp_1",
          responseId: first.responseId,
          text: "hi @agent",
          senderId: "ada",
          senderName: "Ada",
          chatType: "group",
          groupName: "Book club",
          mentioned: true,
          replyToId: "resp_before",
          replyToText: "earlier",
          replyToAgent: undefined
        }
      )

      const skipped = yield* server.sendUserMessage({ ...group, senderId: "bob", senderName: "Bob", text: "just chatting" })
      const acked = yield* waitFor(events, "Acked", (event) => event.responseId === skipped.responseId)
      assert.isTrue(acked.settled, "the skipped message is taken: the server stops keeping it")

      const quoting = yield* server.sendUserMessage({ ...group, text: "and what about this?", replyToId: answered.responseId })
      const second = yield* waitFor(events, "ReplyCompleted")
      assert.strictEqual(second.text, "re: and what about this?", "the next reply is the quoting message's: the skipped one got none")
      assert.deepStrictEqual(asked.map((r) => [r.responseId, r.replyToAgent]), [[first.responseId, undefined], [quoting.responseId, true]])
      assert.deepStrictEqual(admitted.map((r) => r.responseId), [first.responseId, skipped.responseId, quoting.responseId])

      yield* waitFor(events, "Acked", (event) => event.responseId === quoting.responseId)
      assert.strictEqual(yield* server.unacknowledged, 0)
      assert.include(logs.text(), `(not mentioned)`)
    }))
})
