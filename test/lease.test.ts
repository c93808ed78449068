/** Who a lease holder is, and whether its run is gone: on this machine by its process, elsewhere by its lease. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseHolder, processRunning, runGone } from '../lib/kube/lease.ts'

/** The id of a process that ran and exited (reaped by spawnSync): no process has it now, barring reuse. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  const pid = Number(child.stdout)
  assert.ok(pid > 0 && !processRunning(pid), `pid ${pid} of an exited process is free`)
  return pid
}
const here = os.hostname()

// ---
const holder = suite('lease holders')

holder('parses "<what> pid <N> on <host>"; anything else is not a holder the kit wrote', () => {
  assert.equal(parseHolder('02-traefik pid 4242 on my-laptop'), { what: '02-traefik', pid: 4242, host: 'my-laptop' })
  assert.equal(parseHolder('run-all pid 7 on host.lan'), { what: 'run-all', pid: 7, host: 'host.lan' })
  assert.is(parseHolder("someone else's run"), undefined)
})

holder('this process runs; an exited one does not', () => {
  assert.ok(processRunning(process.pid))
  assert.not.ok(processRunning(deadPid()))
})

holder.run()

// ---
const gone = suite('runGone')

gone('on this machine: gone once its process no longer runs, whatever the lease says', () => {
  const pid = deadPid()
  const dead = `02-traefik pid ${pid} on ${here}`
  const verdict = runGone(dead, dead)
  assert.is(verdict.gone, true)
  assert.match(verdict.why, new RegExp(`pid ${pid}\\) no longer runs on this machine`))
})

gone('on this machine: not gone while its process (or its helm) still runs, even with its lease expired', () => {
  const alive = `02-traefik pid ${process.pid} on ${here}`
  assert.is(runGone(alive, undefined).gone, false)
  assert.match(runGone(alive, undefined).why, new RegExp(`pid ${process.pid} still runs on this machine`))
  const deadKit = `02-traefik pid ${deadPid()} on ${here}`
  const helmStillRunning = runGone(deadKit, undefined, [process.pid])
  assert.is(helmStillRunning.gone, false)
})

gone('on another machine: gone once it no longer holds the lease', () => {
  const elsewhere = '02-traefik pid 4242 on some-other-host'
  assert.is(runGone(elsewhere, elsewhere, [], here).gone, false)
  assert.equal(runGone(elsewhere, undefined, [], here), { gone: true, why: 'its lease expired (it ran on some-other-host)' })
  assert.is(runGone(elsewhere, `run-all pid 1 on ${here}`, [], here).gone, true)
})

gone.run()

// ---
// Linux shows zombies in /proc; elsewhere processRunning cannot tell them apart
const zombie = suite(`processRunning: a zombie does not run${fs.existsSync('/proc/self/stat') ? '' : ' (skipped: no /proc on this system)'}`)
const zo = fs.existsSync('/proc/self/stat') ? zombie : zombie.skip

zo('a child killed and not yet reaped is a zombie: not running', async () => {
  const { spawn } = await import('node:child_process')
  // `sh` forks `sleep`, which it never waits for: once killed, sleep stays a zombie until sh exits
  const parent = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))))
  try {
    assert.ok(processRunning(pid))
    process.kill(pid, 'SIGKILL')
    const until = Date.now() + 5000
    while (Date.now() < until && processRunning(pid)) await new Promise((r) => setTimeout(r, 20))
    assert.not.ok(processRunning(pid), 'the killed child no longer runs')
    assert.match(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /, 'and is still in the process table, as a zombie')
  } finally {
    parent.kill('SIGKILL')
  }
})

zombie.run()
