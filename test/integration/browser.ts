/**
 * A real headless Chromium (Debian's `chromium` package, installed by test/packages.sh) opening a page
 * the way a user on the LAN does, with the host name mapped to a loopback address by Chromium's own
 * host resolver rules: no DNS is asked, and every other name fails to resolve (nothing leaves the
 * machine; background services that would phone out are off).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** The Chromium binary, or undefined when it is not installed. */
export function chromiumPath(): string | undefined {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(candidate)) return candidate
  return undefined
}

export type Page = { dom: string; screenshot?: string; log: string }

/**
 * Opens `url` with `host` resolved to `ip`; returns the DOM after its scripts ran (--dump-dom) and,
 * with `screenshot`, also saves a PNG of it there.
 */
export function openPage(url: string, host: string, ip: string, options: { screenshot?: string; timeoutMs?: number } = {}): Page {
  const chromium = chromiumPath()
  if (!chromium) throw new Error('chromium is not installed (Debian package chromium; make test installs it as root)')
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-chromium-'))
  const common = [
    '--headless',
    '--no-sandbox', // root cannot use Chromium's sandbox
    '--disable-gpu',
    '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--metrics-recording-only',
    '--no-pings',
    '--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
    // the one name it may resolve, and to where; any other name is NOTFOUND (no DNS)
    `--host-resolver-rules=MAP ${host} ${ip}, MAP * ~NOTFOUND`,
    '--window-size=1280,800',
    '--virtual-time-budget=3000',
  ]
  const run = (extra: string[]) =>
    spawnSync(chromium, [...common, ...extra, url], { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 })
  try {
    const dumped = run(['--dump-dom'])
    if (dumped.status !== 0) throw new Error(`chromium --dump-dom ${url} (${host} -> ${ip}) exited ${dumped.status ?? dumped.signal}: ${dumped.stderr}`)
    let log = dumped.stderr
    if (options.screenshot) {
      fs.mkdirSync(path.dirname(options.screenshot), { recursive: true })
      fs.rmSync(options.screenshot, { force: true })
      const shot = run([`--screenshot=${options.screenshot}`])
      log += shot.stderr
      if (shot.status !== 0 || !fs.existsSync(options.screenshot)) throw new Error(`chromium --screenshot ${url} exited ${shot.status ?? shot.signal}: ${shot.stderr}`)
    }
    return { dom: dumped.stdout, screenshot: options.screenshot, log }
  } finally {
    fs.rmSync(profile, { recursive: true, force: true })
  }
}
