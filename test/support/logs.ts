/** A log sink that keeps every line, for asserting on what was logged. */
import type { LogSinkShape } from "../../src/Logger.ts"

export interface CapturedLine {
  readonly method: "debug" | "info" | "warn" | "error"
  readonly line: string
}

export const captureSink = () => {
  const lines: Array<CapturedLine> = []
  const sink: LogSinkShape = {
    debug: (line) => lines.push({ method: "debug", line }),
    info: (line) => lines.push({ method: "info", line }),
    warn: (line) => lines.push({ method: "warn", line }),
    error: (line) => lines.push({ method: "error", line })
  }
  return { lines, sink, text: () => lines.map((l) => l.line).join("\n") }
}
