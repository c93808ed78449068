#!/usr/bin/env -S npx zx
import { DNS_OPTION, runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/run-all.ts',
    description:
      'Runs 01-metallb, 02-traefik, 03-internal-routes and 04-verify in order and stops at the first\n' +
      'failure, naming the step and the command that resumes from it.',
    common: ['env-file', 'context', 'dry-run', 'timeout', 'adopt', 'force', 'allow-downgrade'],
    options: {
      from: { type: 'string', arg: 'STEP', help: 'start at this step (01, 02, 03, 04 or its name)' },
      json: { type: 'boolean', help: "print 04-verify's report as JSON on stdout" },
      'no-probe': { type: 'boolean', help: "skip 04-verify's HTTP requests" },
      'no-matrix': { type: 'boolean', help: "04-verify asks only Traefik's API, not the admin hosts" },
      'require-probe': { type: 'boolean', help: '04-verify fails when an address cannot be reached from here (default: skipped)' },
      dns: DNS_OPTION,
    },
  },
  import.meta.url,
  async (ctx) => {
    const { runAll } = await import('../lib/run/run-all.ts')
    return runAll(ctx)
  },
)
