/**
 * The reference server's per-client bookkeeping for protocol v2 (src/server/Mailbox.ts), without
 * sockets: links are fakes that record what is written to them.
 */
import { assert, describe, it } from "vitest"
import { Link, Mailbox, MAX_UNDECIDED } from "../../src/server/Mailbox.ts"

const fakeLink = () => {
  const written: Array<string> = []
  const link = new Link("demo", { isOpen: () => !link.closed, send: (text, done) => (written.push(text), done()), terminate: () => {} })
  return { link, written }
}

const mailbox = () => new Mailbox("demo", (link, text, done) => link.socket.send(text, done))
const frames = (id: string, n = 3) => Array.from({ length: n }, (_, i) => `${id}#${i}`)
const releaseAll = (box: Mailbox, entry: ReturnType<Mailbox["add"]>) => {
  for (let i = 0; i < entry.frames.length; i++) box.release(entry, () => {})
}

describe("Mailbox", () => {
  it("a link whose hello comes mid-message gets the frames so far at once, then the rest as released", () => {
    const box = mailbox()
    const first = fakeLink()
    box.join(first.link)
    box.hello(first.link, ["ack"])
    box.leave(first.link)
    const entry = box.add("r", frames("r", 4))
    box.release(entry, () => {})
    box.release(entry, () => {})
    const next = fakeLink()
    box.join(next.link)
    assert.deepStrictEqual(box.hello(next.link, ["ack"]), ["r"])
    assert.deepStrictEqual(next.written, ["r#0", "r#1"])
    box.release(entry, () => {})
    box.release(entry, () => {})
    assert.deepStrictEqual(next.written, frames("r", 4), "each frame once, in order")
    assert.strictEqual(box.unacknowledged, 1)
  })

  it("a message acknowledged before its last frame still goes out whole", () => {
    const box = mailbox()
    const { link, written } = fakeLink()
    box.join(link)
    box.hello(link, ["ack"])
    const entry = box.add("r", frames("r"))
    box.release(entry, () => {})
    assert.isTrue(box.ack(link, "r"))
    box.release(entry, () => {})
    box.release(entry, () => {})
    assert.deepStrictEqual(written, frames("r"))
    assert.strictEqual(box.unacknowledged, 0)
  })

  it("messages written to a link that closed before deciding are let go when the next link is v1, owed when it says hello", () => {
    for (const next of ["v1", "v2"] as const) {
      const box = mailbox()
      const undecided = fakeLink()
      box.join(undecided.link)
      releaseAll(box, box.add("r", frames("r")))
      box.leave(undecided.link)
      const later = fakeLink()
      box.join(later.link)
      if (next === "v1") box.v1(later.link)
      else box.hello(later.link, ["ack"])
      assert.deepStrictEqual(later.written, next === "v1" ? [] : frames("r"), next)
      assert.strictEqual(box.unacknowledged, next === "v1" ? 0 : 1, next)
    }
  })

  it("a v1 link lets go of each message once it is written whole; nothing is counted", () => {
    const box = mailbox()
    const { link, written } = fakeLink()
    box.join(link)
    box.v1(link)
    for (const id of ["a", "b"]) releaseAll(box, box.add(id, frames(id)))
    assert.deepStrictEqual(written, [...frames("a"), ...frames("b")])
    const v2 = fakeLink()
    box.join(v2.link)
    assert.deepStrictEqual(box.hello(v2.link, ["ack"]), [], "nothing kept to redeliver")
  })

  it("a hello without ack changes nothing for delivery and keeps nothing", () => {
    const box = mailbox()
    const { link } = fakeLink()
    box.join(link)
    assert.deepStrictEqual(box.hello(link, ["media"]), [])
    assert.isFalse(link.acks)
    releaseAll(box, box.add("r", frames("r")))
    assert.strictEqual(box.unacknowledged, 0)
    assert.isFalse(box.ack(link, "r"), "no ack on a link that did not agree on it")
  })

  it("a link that turns out v1 after the client spoke ack is written only what no link was sent, and nothing stays owed", () => {
    const box = mailbox()
    const old = fakeLink()
    box.join(old.link)
    box.hello(old.link, ["ack"])
    releaseAll(box, box.add("taken", frames("taken")))
    box.leave(old.link)
    releaseAll(box, box.add("away", frames("away")))
    assert.strictEqual(box.unacknowledged, 2)
    const v1 = fakeLink()
    box.join(v1.link)
    assert.isFalse(box.isReady(v1.link), "held for its hello")
    box.v1(v1.link)
    assert.deepStrictEqual(v1.written, frames("away"))
    assert.strictEqual(box.unacknowledged, 0)
    assert.isFalse(box.speaksAck)
  })

  it("keeps at most MAX_UNDECIDED uncounted messages for a link that never decides", () => {
    const box = mailbox()
    const { link } = fakeLink()
    box.join(link)
    for (let i = 0; i < MAX_UNDECIDED + 50; i++) releaseAll(box, box.add(`r${i}`, frames(`r${i}`, 1)))
    box.leave(link)
    const v2 = fakeLink()
    box.join(v2.link)
    const redelivered = box.hello(v2.link, ["ack"])
    assert.strictEqual(redelivered.length, MAX_UNDECIDED)
    assert.strictEqual(redelivered[0], "r50", "the oldest went first")
  })
})
