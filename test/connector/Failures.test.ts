/**
 * What a failed or stopped reply says (`src/connector/Failures.ts`): an `AgentError`'s own
 * message (without the secret) to the end user, a generic sentence for anything else, the reason
 * of an `AgentStopped`, and the log line said as it happens.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import { AgentError, AgentStopped } from "../../src/Agent.ts"
import { makeFailures } from "../../src/connector/Failures.ts"
import * as InstaLogger from "../../src/Logger.ts"
import { genericFailure } from "../../src/Protocol.ts"
import { captureSink } from "../support/logs.ts"

const secret = "very-secret-value"
const failures = makeFailures([secret])

describe("Failures", () => {
  it("an AgentError's own message and code reach the end user, the secret scrubbed out", () => {
    const cause = Cause.fail(new AgentError({ message: `Quota exceeded for key ${secret}`, code: "quota" }))
    assert.deepStrictEqual(failures.describeFailure(cause), { code: "quota", message: "Quota exceeded for key <redacted>" })
    assert.deepStrictEqual(failures.describeFailure(Cause.fail(new AgentError({ message: "No." }))), { code: "agent_error", message: "No." })
  })

  it("a defect or any other error gets the generic sentence", () => {
    assert.deepStrictEqual(failures.describeFailure(Cause.die(new Error(`boom ${secret}`))), genericFailure)
    assert.deepStrictEqual(failures.describeFailure(Cause.fail(new Error("other"))), genericFailure)
  })

  it("an AgentStopped gives its reason; anything else is no stop", () => {
    assert.strictEqual(failures.describeStop(Cause.fail(new AgentStopped({ reason: "user_stop" }))), "user_stop")
    assert.isUndefined(failures.describeStop(Cause.fail(new AgentError({ message: "no" }))))
    assert.isUndefined(failures.describeStop(Cause.die("defect")))
  })

  it.effect("onSourceFailure says a stop at info and a failure at error, with its cause", () =>
    Effect.gen(function*() {
      const logs = captureSink()
      const said = (cause: Cause.Cause<unknown>) =>
        failures.onSourceFailure(cause).pipe(Effect.provide(InstaLogger.layer({ debug: true, sink: logs.sink })))
      yield* said(Cause.fail(new AgentStopped({ reason: "user_stop" })))
      yield* said(Cause.fail(new AgentError({ message: "the model is down" })))
      assert.strictEqual(logs.lines.length, 2)
      assert.strictEqual(logs.lines[0]!.method, "info")
      assert.include(logs.lines[0]!.line, "The reply was stopped (user_stop); sending response.incomplete")
      assert.strictEqual(logs.lines[1]!.method, "error")
      assert.include(logs.lines[1]!.line, "The agent failed to answer; sending response.failed")
      assert.include(logs.lines[1]!.line, "the model is down")
    }))
})
