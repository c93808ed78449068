/**
 * Certificates for loopback HTTPS servers in tests. Node can make keys but cannot sign X.509
 * certificates, so the openssl CLI does it; without openssl the caller skips with skipReason.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export type KeyPair = { key: string; cert: string }
export type TestCertificates = {
  /** A test CA's root, to verify `hosts` against. */
  ca: string
  /** Self-signed, subject CN=TRAEFIK DEFAULT CERT, like the one Traefik serves when it has no other. */
  traefikDefault: KeyPair
  /** One certificate per host (or IPv4 address), signed by the test CA, with the host as its subjectAltName. */
  hosts: Record<string, KeyPair>
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[traefik_default]
basicConstraints = CA:FALSE
subjectAltName = DNS:0123456789abcdef.traefik.default
`

export function openssl(): string | undefined {
  const found = spawnSync('openssl', ['version'], { encoding: 'utf8' })
  return found.status === 0 ? found.stdout.trim() : undefined
}

/** Makes the certificates, or returns why it cannot (then the test says so and skips). */
export function makeCertificates(hosts: string[]): TestCertificates | string {
  if (!openssl()) return 'openssl is not installed (Node cannot sign X.509 certificates by itself)'
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-certs-'))
  try {
    const file = (name: string) => path.join(dir, name)
    fs.writeFileSync(file('openssl.cnf'), CONFIG)
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    const run = (args: string[]) => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`)
    }
    const selfSigned = (name: string, subject: string, extensions: string) =>
      run(['req', '-x509', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-days', '2', '-subj', subject, '-config', file('openssl.cnf'), '-extensions', extensions])
    selfSigned('ca', '/CN=homelab-ingress test CA', 'ca')
    selfSigned('default', '/CN=TRAEFIK DEFAULT CERT', 'traefik_default')
    const pair = (name: string): KeyPair => ({ key: fs.readFileSync(file(`${name}.key`), 'utf8'), cert: fs.readFileSync(file(`${name}.crt`), 'utf8') })
    const signed: Record<string, KeyPair> = {}
    hosts.forEach((host, i) => {
      // an IPv4 address (a webhook on loopback, called by the API server) needs an IP name, not a DNS one
      fs.writeFileSync(file(`host${i}.ext`), `basicConstraints = CA:FALSE\nsubjectAltName = ${/^[\d.]+$/.test(host) ? 'IP' : 'DNS'}:${host}\n`)
      run(['req', '-new', ...ec, '-keyout', file(`host${i}.key`), '-out', file(`host${i}.csr`), '-subj', `/CN=${host}`, '-config', file('openssl.cnf')])
      run(['x509', '-req', '-in', file(`host${i}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-set_serial', String(1000 + i), '-days', '2', '-extfile', file(`host${i}.ext`), '-out', file(`host${i}.crt`)])
      signed[host] = pair(`host${i}`)
    })
    return { ca: pair('ca').cert, traefikDefault: pair('default'), hosts: signed }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
