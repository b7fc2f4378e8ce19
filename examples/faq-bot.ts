/**
 * Embedding the connector in a small Effect backend: a FAQ bot.
 *
 * The backend has its own service (`Faq`), implements the connector's `Agent` port with it,
 * and runs `InstaClaw.layer` configured from the environment:
 *
 *   INSTACLAW_WS_URL=ws://127.0.0.1:8787/user-ws/ INSTACLAW_CLIENT_ID=demo \
 *   INSTACLAW_CLIENT_SECRET=demo-secret node examples/faq-bot.ts
 *
 * In your own project, import from "insta-claw-connector" instead of "../src/index.ts".
 */
import { NodeRuntime } from "@effect/platform-node-shared"
import { Context, Effect, Layer, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { Agent, InstaClaw } from "../src/index.ts"

/** The backend's own service: answers from a small FAQ. */
export class Faq extends Context.Service<Faq, {
  readonly lookup: (question: string) => Effect.Effect<string | undefined>
}>()("faq-bot/Faq") {
  static readonly layer = Layer.succeed(Faq, {
    lookup: (question) =>
      Effect.succeed(
        Object.entries({
          hours: "We are open 9:00–17:00, Monday to Friday.",
          price: "The basic plan is free; the team plan is 8 € per seat.",
          refund: "Refunds are possible within 30 days of purchase."
        }).find(([topic]) => question.toLowerCase().includes(topic))?.[1]
      )
  })
}

/** The `Agent`: looks the question up and streams the answer word by word. */
export const FaqAgent: Layer.Layer<Agent.Agent> = Layer.effect(
  Agent.Agent,
  Effect.gen(function*() {
    const faq = yield* Faq
    return Agent.Agent.of({
      reply: (request) =>
        Stream.unwrap(
          Effect.map(faq.lookup(request.text), (answer) =>
            Agent.echoReply(answer ?? `Sorry ${request.senderName ?? "there"}, I only know about hours, prices and refunds.`))
        )
    })
  })
).pipe(Layer.provide(Faq.layer))

/** The whole bot: the connector, configured from `INSTACLAW_*`, answering with the FAQ agent. */
export const FaqBot = InstaClaw.layerFromEnv.pipe(Layer.provide(FaqAgent))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(FaqBot))
}
