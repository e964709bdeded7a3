/** One timer for many deadlines (src/deadlines.ts), on vitest's fake clock. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Deadlines } from '../src/deadlines.js'

describe('Deadlines', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('fires each deadline once, at its time, whatever the mix of durations', () => {
    const fired: [string, number][] = []
    const deadlines = new Deadlines<string>((key) => fired.push([key, performance.now()]))
    const start = performance.now()
    deadlines.add('a', 300)
    deadlines.add('b', 100)
    vi.advanceTimersByTime(50)
    deadlines.add('c', 300)
    deadlines.add('d', 100)
    vi.advanceTimersByTime(1000)
    expect(fired.map(([key, at]) => [key, Math.round(at - start)])).toEqual([
      ['b', 100],
      ['d', 150],
      ['a', 300],
      ['c', 350],
    ])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a deleted deadline never fires, and the others still do', () => {
    const fired: string[] = []
    const deadlines = new Deadlines<string>((key) => fired.push(key))
    deadlines.add('a', 100)
    deadlines.add('b', 100)
    deadlines.add('c', 200)
    deadlines.delete('a', 100)
    deadlines.delete('c', 200)
    vi.advanceTimersByTime(1000)
    expect(fired).toEqual(['b'])
  })

  it('uses one timer for any number of deadlines', () => {
    const deadlines = new Deadlines<number>(() => undefined)
    for (let i = 0; i < 1000; i++) deadlines.add(i, 5000 + (i % 3))
    expect(vi.getTimerCount()).toBe(1)
    deadlines.clear()
  })

  it('clear forgets everything and leaves no timer', () => {
    const fired: string[] = []
    const deadlines = new Deadlines<string>((key) => fired.push(key))
    deadlines.add('a', 100)
    deadlines.clear()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(1000)
    expect(fired).toEqual([])
  })

  it('deadlines added and deleted one after another, as sequential calls do, leave the next one due on time', () => {
    const fired: [number, number][] = []
    const deadlines = new Deadlines<number>((key) => fired.push([key, performance.now()]))
    const start = performance.now()
    for (let i = 0; i < 100; i++) {
      deadlines.add(i, 100)
      vi.advanceTimersByTime(1)
      deadlines.delete(i, 100)
    }
    deadlines.add(100, 100)
    vi.advanceTimersByTime(1000)
    expect(fired.map(([key, at]) => [key, Math.round(at - start)])).toEqual([[100, 200]])
    expect(vi.getTimerCount()).toBe(0)
  })
})
