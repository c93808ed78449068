#!/usr/bin/env -S npx zx
import { DNS_OPTION, runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/04-verify.ts',
    description:
      'Proves the result: Traefik pods Running and Ready, each LoadBalancer EXTERNAL-IP equal to its\n' +
      'configured address, every router in the cluster on a public entrypoint (IngressRoute, -TCP, -UDP,\n' +
      'Ingress) judged by what it reaches: none may reach an admin UI, whatever host it matches; the same\n' +
      "judgement on the routers Traefik's API says it serves; and a reachability matrix: each admin\n" +
      'host (and PUBLIC_PROBE_HOST) asked on INTERNAL_IP and EXTERNAL_IP, ports 80 and 443, where this\n' +
      'machine reaches them; admin hosts must be routed on INTERNAL_IP and get 404 or nothing on\n' +
      'EXTERNAL_IP; and that no other LAN device answers for either address. Prints the hosts-file line\n' +
      'and the records for dnsmasq/Pi-hole, AdGuard Home and Unbound.\n' +
      'Exit 0 only when all of it holds. Changes nothing.',
    common: ['env-file', 'context', 'timeout'],
    options: {
      json: { type: 'boolean', help: 'print a machine-readable report on stdout' },
      'no-probe': { type: 'boolean', help: "skip the HTTP requests to INTERNAL_IP and EXTERNAL_IP (the matrix and Traefik's API)" },
      'no-matrix': { type: 'boolean', help: "ask only Traefik's API (on INTERNAL_IP, the dashboard host), not the admin hosts" },
      'require-probe': { type: 'boolean', help: 'fail when an address cannot be reached from here (default: "not checked", skipped)' },
      dns: DNS_OPTION,
    },
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/run/steps.ts')
    return runSingleStep('04', ctx)
  },
)
