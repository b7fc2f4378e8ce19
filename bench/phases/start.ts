/**
 * Start, in process against the reference server, with an agent that thinks 30 ms before its
 * first word: the first frame after the user's last event (the connector's `response.created`,
 * sent while the agent still thinks; target < 50 ms), and the first delta after the agent's first
 * token. No baseline: both are the connector's own delays, p50 and p99.
 */
import { Effect, Stream } from "effect"
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import type { ServerEvent } from "../../src/server/ReferenceServer.ts"
import { fmt, type PhaseResult } from "../report.ts"
import { connectorHarness, percentile, serverHarness } from "../support.ts"

type Harness = Awaited<ReturnType<typeof serverHarness>>

/** Resolves with the time of the first server event that matches. */
const firstEvent = (harness: Harness, match: (event: ServerEvent) => boolean) =>
  new Promise<number>((resolve) => {
    const off = harness.on((event) => {
      if (match(event)) {
        off()
        resolve(performance.now())
      }
    })
  })

export const start = async (messages: number): Promise<PhaseResult> => {
  const harness = await serverHarness()
  const firstTokenAt = new Map<string, number>()
  // An agent that thinks 30 ms before its first word, like a model before its first token.
  const thinking = Agent.layer((request) =>
    Stream.fromEffect(Effect.sleep("30 millis")).pipe(
      Stream.flatMap(() => {
        firstTokenAt.set(request.conversationId, performance.now())
        return Stream.make("The ", "answer.")
      })
    )
  )
  const { close } = await connectorHarness(harness.server.url, thinking)
  const firstFrame: Array<number> = []
  const firstDelta: Array<number> = []
  for (let i = 0; i < messages; i++) {
    const conversationId = `start_${i}`
    const frame = firstEvent(harness, (event) => event._tag === "Frame" && event.json.includes(`"conversationId":"${conversationId}"`))
    const delta = firstEvent(harness, (event) => event._tag === "ReplyDelta" && event.conversationId === conversationId)
    const completed = harness.count((event) => event._tag === "ReplyCompleted" && event.conversationId === conversationId, 1)
    await harness.run(harness.server.sendUserMessage({ conversationId, text: "Are you there?" }))
    const sentAt = performance.now()
    firstFrame.push((await frame) - sentAt)
    firstDelta.push((await delta) - firstTokenAt.get(conversationId)!)
    await completed
  }
  await close()
  await harness.close()
  const frames = firstFrame.slice(Math.floor(messages / 10))
  const deltas = firstDelta.slice(Math.floor(messages / 10))
  const stats = (samples: Array<number>) => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) })
  return {
    json: { start: { messages, agentThinksMs: 30, firstFrameMs: stats(frames), firstDeltaAfterFirstTokenMs: stats(deltas) } },
    rows: [
      ["first frame after the user's last event, p50 / p99 (ms; agent still thinking)", `${fmt(percentile(frames, 50), 2)} / ${fmt(percentile(frames, 99), 2)}`, "—", "< 50 ms target"],
      ["first delta after the agent's first token, p50 / p99 (ms)", `${fmt(percentile(deltas, 50), 2)} / ${fmt(percentile(deltas, 99), 2)}`, "—", "—"]
    ]
  }
}
