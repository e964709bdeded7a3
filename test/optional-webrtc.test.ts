/**
 * node-datachannel is an optional peer dependency: a browser app's install pulls no native
 * binary (scripts/check-fresh-vite-app.ts proves that), and a Node process without it is told
 * what to install when it asks for WebRTC — tried in a real process where the package cannot
 * be resolved.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

function startInNode(hide: boolean): { name?: string; message?: string; started?: boolean } {
  const args = [
    '--import',
    'tsx',
    ...(hide ? ['--import', fixture('without-node-datachannel.mjs')] : []),
    fixture('start-without-webrtc.ts'),
  ]
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000 }).trim().split('\n').at(-1)!) as never
}

describe('node-datachannel, an optional peer dependency', () => {
  it('without it, startNode with signaling in Node fails with an error that names the package to install', () => {
    const outcome = startInNode(true)
    expect(outcome.name).toBe('DistribunatorError')
    expect(outcome.message).toMatch(/node-datachannel/)
    expect(outcome.message).toMatch(/installed/)
  })

  it('with it, the same process starts (the fixture itself is sound)', () => {
    expect(startInNode(false)).toEqual({ started: true })
  })
})
