/**
 * The inbound dedupe gate (docs/PROTOCOL.md §5): is this envelope one seen recently, and if not,
 * remember it. An envelope is a duplicate when its `headers.messageId` is one of the last
 * `capacity` admitted, or when its response was answered before a restart (`restore`). The gate
 * also remembers the last `capacity` responses that ended here, for the assembler's "event after
 * completion", and the last `capacity` dropped unfinished (evicted, idle), so that their redelivery
 * (§7: the same message ids, sequence numbers) is assembled again.
 *
 * The rule is a lookup of every id among the last `capacity` admitted, except for a dropped
 * response sent again: its start begins a new attempt, and each event of that attempt with a
 * sequence number above every one admitted in it passes, though its id is remembered from the
 * first attempt. The property test `test/internal/dedupeGate.property.test.ts` holds the gate to
 * this rule (plain bounded lists). The common events skip the lookup, because what they carry
 * proves they are not redeliveries:
 * - the next event of a response being assembled, with a sequence number above every one admitted
 *   for it since it began: a redelivery of any of those has a number at most that;
 * - the start of a response that neither ended nor was dropped here, nor was answered before a
 *   restart: had this envelope been admitted before, its response would be being assembled, ended
 *   or dropped now, or the gate would be unsure.
 * The gate is unsure after admitting an event that neither starts nor continues its response
 * (unknown, dropped, or after its end), and after an ended or dropped response is forgotten while an
 * id of it may be remembered. Until `capacity` more ids have come, so that what came before is
 * forgotten too, every start is looked up, and so is every event of a response that begins
 * (`Track.clean`): an event of it may have come before it began. A new attempt at a dropped
 * response is never clean (its first attempt's ids are remembered): its events are added, not
 * recorded, so that an id is never held twice.
 *
 * Gotchas: the proof assumes a message id names one envelope. A server that reuses an id for a new
 * event of the kinds above sees it count, where a lookup would have dropped it.
 */
import { RecentIds, RecentSet } from "./recent.ts"

/** The gate's view of a response being assembled: kept with it, handed back with its events. */
export interface Track {
  /** No id of this response from before `begin` can still be remembered. */
  readonly clean: boolean
  /** A new attempt at a response dropped unfinished: its ids may be remembered from the first. */
  readonly again: boolean
  /** The highest sequence number admitted for it since `begin`; -1 for none. */
  last: number
}

/** Where a response that is not being assembled stands. */
export type Standing = "Restored" | "Ended" | "Dropped" | undefined

export class DedupeGate {
  private readonly ids: RecentIds
  private readonly ended: RecentSet
  private readonly dropped: RecentSet
  private readonly restored: RecentSet
  private readonly capacity: number
  /** `ids.recorded` at the last event the gate was unsure about (see the module's comment). */
  private unsureAt = Number.NEGATIVE_INFINITY

  constructor(capacity: number) {
    this.capacity = capacity
    this.ids = new RecentIds(capacity)
    this.ended = new RecentSet(capacity)
    this.dropped = new RecentSet(capacity)
    this.restored = new RecentSet(capacity)
  }

  /** Responses answered by an earlier run, oldest first: their events are duplicates. Call before the first `admit`. */
  restore(responseIds: Iterable<string>): void {
    for (const id of responseIds) this.restored.add(id)
  }

  /** Ids remembered: message ids, ended, dropped and restored responses. At most four times `capacity`. */
  get size(): number {
    return this.ids.size + this.ended.size + this.dropped.size + this.restored.size
  }

  /**
   * True, and the id remembered, unless the envelope is a duplicate by its message id. Pass
   * `responseId` only for a known event that has a conversation (the others are always looked
   * up), with its `sequence`, whether it `starts` a response (created, queued, in_progress), and
   * its response's `track` while that response is being assembled.
   */
  admit(messageId: string, responseId: string | undefined, sequence: number | undefined, starts: boolean, track: Track | undefined): boolean {
    if (responseId !== undefined) {
      if (track !== undefined) {
        if (sequence !== undefined && sequence > track.last && (track.clean || track.again)) {
          // A new attempt's event may have come in the first one: remembered once, not twice.
          if (track.again) this.ids.add(messageId)
          else this.ids.record(messageId)
          track.last = sequence
          return true
        }
      } else if (starts && !this.ended.has(responseId) && !this.restored.has(responseId)) {
        if (this.dropped.has(responseId)) {
          // Sent again after it was dropped unfinished: it begins again (`begin`).
          this.ids.add(messageId)
          return true
        }
        if (this.quiet()) {
          this.ids.record(messageId)
          return true
        }
      }
    }
    if (!this.ids.add(messageId)) return false
    // A clean track's `last` needs no update here: this event's sequence is at most `last`, or none.
    if (responseId !== undefined && track === undefined && !this.restored.has(responseId) && (!starts || this.ended.has(responseId))) {
      // It neither starts nor continues its response: a later start of that response proves
      // nothing while this id is remembered.
      this.unsureAt = this.ids.recorded
    }
    return true
  }

  /** Whether a response not being assembled was answered before a restart, ended here, or was dropped here unfinished. */
  standing(responseId: string): Standing {
    return this.restored.has(responseId)
      ? "Restored"
      : this.ended.has(responseId)
      ? "Ended"
      : this.dropped.has(responseId)
      ? "Dropped"
      : undefined
  }

  /**
   * A response starts being assembled, by the event just admitted (its `sequence`): its track.
   * Call it for every admitted event that `starts`, had no track and no `standing` but "Dropped",
   * and before `drop`ping another response to make room.
   */
  begin(responseId: string, sequence: number | undefined): Track {
    const again = this.dropped.has(responseId)
    return { clean: !again && this.quiet(), again, last: sequence ?? -1 }
  }

  /** A response being assembled ended for good (completed, failed, too large): remembered as ended. */
  end(responseId: string): void {
    this.ended.add(responseId, this.ids.recorded)
    // Forgotten while its ids may still be remembered: a start of it proves nothing until they go.
    this.unsureAt = Math.max(this.unsureAt, this.ended.lastForgottenStamp)
  }

  /** A response being assembled was dropped unfinished (evicted, idle): its start, sent again, begins it again. */
  drop(responseId: string): void {
    const before = this.dropped.size
    // One forgotten to make room: a start of it proves nothing until its ids go. Counted from now,
    // not from when it was dropped: it may have been dropped, begun again and dropped again since.
    if (this.dropped.add(responseId) && this.dropped.size === before) this.unsureAt = this.ids.recorded
  }

  /** No unsure event among the ids remembered. */
  private quiet(): boolean {
    return this.ids.recorded - this.unsureAt >= this.capacity
  }
}
