/** How the demo writes times and durations. */

/** '14:03:27': a log line's time, 24-hour, so columns stay narrow. */
export function clockTime(date = new Date()): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}

/** '0.8 ms', '12 ms': one decimal only where it matters. */
export function milliseconds(ms: number): string {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`
}
