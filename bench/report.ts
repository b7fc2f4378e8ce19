/**
 * What a bench phase hands back to the driver (bench/run.ts): rows for the printed table, the
 * figures for the JSON file, and any failures — a failure is printed under the table and makes
 * the run exit non-zero, so no phase can hide one.
 */

/** One line of the table: what is measured, the connector's figure, the baseline's, their ratio. */
export type Row = readonly [what: string, connector: string, baseline: string, ratio: string]

export interface PhaseResult {
  readonly rows: ReadonlyArray<Row>
  /** Keys of the JSON file, e.g. `{ inbound: {...} }`. */
  readonly json: Readonly<Record<string, unknown>>
  /** Sentences saying what went wrong; empty when the phase passed. */
  readonly failures?: ReadonlyArray<string>
}

/** What every phase is given by the driver. */
export interface PhaseOptions {
  /** BENCH_RUNS: runs per figure (each figure is their median). */
  readonly runs: number
}

/** A number with thousands separators and a fixed number of decimals. */
export const fmt = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** `0.83×`: the connector's figure over the baseline's. */
export const times = (connector: number, baseline: number) => `${(connector / baseline).toFixed(2)}×`

/** The table, columns padded to their widest cell. */
export const formatTable = (rows: ReadonlyArray<Row>): string => {
  const header: Row = ["figure", "connector", "baseline", "ratio"]
  const all = [header, ...rows]
  const widths = [0, 1, 2, 3].map((i) => Math.max(...all.map((r) => r[i]!.length)))
  const line = (r: Row) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
