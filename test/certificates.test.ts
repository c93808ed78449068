/**
 * 04's cert-manager checks on objects in the shape the API server and cert-manager v1.21 write them
 * (conditions, Order and Challenge status fields as in cert-manager's API types; node and pod
 * conditions as the node lifecycle controller sets them). Written by hand, not recorded: see the note
 * on issue 16.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Obj } from '../lib/verify/checks.ts'
import { certificateChecks, disruptionBudgetCheck, issuerCheck, replicasCheck, type WantedCertificate } from '../lib/verify/certificates.ts'

const NOW = new Date('2026-12-08T02:00:00Z')
const wanted: WantedCertificate[] = [{ namespace: 'traefik', name: 'homelab-ingress-admin', secretName: 'homelab-ingress-admin-tls', dnsNames: ['*.home.example'] }]

const certificate = (status: any): Obj => ({
  apiVersion: 'cert-manager.io/v1',
  kind: 'Certificate',
  metadata: { name: 'homelab-ingress-admin', namespace: 'traefik', uid: 'cert-uid', generation: 1 },
  spec: { secretName: 'homelab-ingress-admin-tls', dnsNames: ['*.home.example'] },
  status,
})
const readyStatus = (notAfter: string) => ({
  conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'Certificate is up to date and has not expired', observedGeneration: 1 }],
  notAfter,
  notBefore: '2026-11-01T00:00:00Z',
  renewalTime: '2027-01-01T00:00:00Z',
  revision: 1,
})
const secret: Obj = { metadata: { name: 'homelab-ingress-admin-tls', namespace: 'traefik' } }
const none = { requests: [], orders: [], challenges: [] }

const certs = suite('04 cert-manager: Certificates')

certs('Ready with 84 days left passes and names the days; its Secret present passes', () => {
  const [c, s] = certificateChecks(wanted, { certificates: [certificate(readyStatus('2027-03-02T02:00:00Z'))], secrets: [secret], ...none }, NOW)
  assert.is(c.status, 'pass')
  assert.is(c.detail, 'valid until 2027-03-02 (84 days left)')
  assert.is(s.status, 'pass')
})

certs('Ready but 12 days left warns (renewal is late); 3 days left fails', () => {
  const [warn] = certificateChecks(wanted, { certificates: [certificate(readyStatus('2026-12-20T03:00:00Z'))], secrets: [secret], ...none }, NOW)
  assert.is(warn.status, 'warn')
  assert.match(warn.detail, /12 days left/)
  const [fail] = certificateChecks(wanted, { certificates: [certificate(readyStatus('2026-12-11T03:00:00Z'))], secrets: [secret], ...none }, NOW)
  assert.is(fail.status, 'fail')
  assert.match(fail.detail, /3 days left.*about to expire/)
})

certs('a missing Certificate and a missing Secret each fail, saying what to do', () => {
  const [c, s] = certificateChecks(wanted, { certificates: [], secrets: [], ...none }, NOW)
  assert.equal([c.status, c.detail], ['fail', 'missing (rerun 02-traefik)'])
  assert.is(s.status, 'fail')
  assert.match(s.detail, /self-signed/)
})

certs('a stuck Certificate says why: its condition, its Order, its Challenge with reason and a hint', () => {
  const cert = certificate({
    conditions: [
      { type: 'Ready', status: 'False', reason: 'DoesNotExist', message: 'Issuing certificate as Secret does not exist' },
      { type: 'Issuing', status: 'True', reason: 'DoesNotExist', message: 'Issuing certificate as Secret does not exist' },
    ],
  })
  const request: Obj = {
    metadata: { name: 'homelab-ingress-admin-1', namespace: 'traefik', uid: 'cr-uid', creationTimestamp: '2026-12-08T01:59:00Z', ownerReferences: [{ kind: 'Certificate', uid: 'cert-uid' }] },
    status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Pending', message: 'Waiting on certificate issuance from order traefik/homelab-ingress-admin-1-3722227015: "pending"' }] },
  }
  const oldRequest: Obj = { ...request, metadata: { ...request.metadata, name: 'old', uid: 'old-uid', creationTimestamp: '2026-12-01T00:00:00Z' } }
  const order: Obj = {
    metadata: { name: 'homelab-ingress-admin-1-3722227015', namespace: 'traefik', uid: 'order-uid', ownerReferences: [{ kind: 'CertificateRequest', uid: 'cr-uid' }] },
    status: { state: 'pending' },
  }
  const challenge: Obj = {
    metadata: { name: 'homelab-ingress-admin-1-3722227015-1', namespace: 'traefik', ownerReferences: [{ kind: 'Order', uid: 'order-uid' }] },
    spec: { type: 'DNS-01', dnsName: 'home.example', wildcard: true },
    status: {
      processing: true,
      presented: false,
      state: 'pending',
      reason: 'Error presenting challenge: Cloudflare API error for POST "/zones/0/dns_records": Error: 10000: Authentication error',
    },
  }
  const unrelated: Obj = { ...challenge, metadata: { ...challenge.metadata, name: 'other', ownerReferences: [{ kind: 'Order', uid: 'other-order' }] }, status: { state: 'invalid', reason: 'unrelated' } }
  const [c] = certificateChecks(wanted, { certificates: [cert], secrets: [], requests: [oldRequest, request], orders: [order], challenges: [challenge, unrelated] }, NOW)
  assert.is(c.status, 'fail')
  assert.is(
    c.detail,
    'DoesNotExist: Issuing certificate as Secret does not exist; Order homelab-ingress-admin-1-3722227015 pending; Challenge DNS-01 for home.example pending (not presented): Error presenting challenge: Cloudflare API error for POST "/zones/0/dns_records": Error: 10000: Authentication error (cert-manager writes a TXT record with ACME_DNS_SECRET: the token allowed to edit the zone, the zone the one DOMAIN is in?)',
  )
})

certs('an invalid Order of HTTP-01 names the CA\'s answer and where it must reach', () => {
  const cert = certificate({ conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'The certificate request has failed to complete and will be retried: Failed to wait for order resource "x" to become ready: order is in "invalid" state' }] })
  const request: Obj = { metadata: { name: 'r', uid: 'r', ownerReferences: [{ uid: 'cert-uid' }] }, status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'Failed to wait for order resource "x" to become ready: order is in "invalid" state' }] } }
  const order: Obj = { metadata: { name: 'x', uid: 'o', ownerReferences: [{ uid: 'r' }] }, status: { state: 'invalid', reason: '' } }
  const challenge: Obj = {
    metadata: { name: 'x-1', ownerReferences: [{ uid: 'o' }] },
    spec: { type: 'HTTP-01', dnsName: 'blog.example.org' },
    status: { presented: true, state: 'invalid', reason: 'Error accepting authorization: acme: authorization error for blog.example.org: 403 urn:ietf:params:acme:error:unauthorized: Invalid response from http://blog.example.org/.well-known/acme-challenge/abc: 404' },
  }
  const [c] = certificateChecks(wanted, { certificates: [cert], secrets: [secret], requests: [request], orders: [order], challenges: [challenge] }, NOW)
  assert.match(c.detail, /CertificateRequest r: Failed: /)
  assert.match(c.detail, /Order x invalid; Challenge HTTP-01 for blog\.example\.org invalid: Error accepting authorization: .*404 \(the CA must reach .*EXTERNAL_IP:80/)
})

certs.run()

const issuer = suite('04 cert-manager: ClusterIssuer')

issuer('Ready passes with cert-manager\'s message; not Ready names the reason; missing fails', () => {
  const ready: Obj = { metadata: { name: 'homelab-ingress-acme' }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'ACMEAccountRegistered', message: 'The ACME account was registered with the ACME server' }] } }
  assert.equal(issuerCheck(ready, 'homelab-ingress-acme').status, 'pass')
  const failing: Obj = { metadata: { name: 'homelab-ingress-acme' }, status: { conditions: [{ type: 'Ready', status: 'False', reason: 'ErrRegisterACMEAccount', message: 'Failed to register ACME account: 400 urn:ietf:params:acme:error:invalidContact' }] } }
  const check = issuerCheck(failing, 'homelab-ingress-acme')
  assert.is(check.status, 'fail')
  assert.match(check.detail, /^ErrRegisterACMEAccount: Failed to register ACME account/)
  assert.is(issuerCheck(undefined, 'homelab-ingress-acme').status, 'fail')
})

issuer.run()

const replicas = suite('04 cert-manager: replicas on distinct nodes, the PDB')

const node = (name: string, ready: 'True' | 'False' | 'Unknown' = 'True'): Obj => ({ metadata: { name }, spec: {}, status: { conditions: [{ type: 'Ready', status: ready }] } })
const pod = (name: string, nodeName: string | undefined, ready = true): Obj => ({
  metadata: { name, namespace: 'traefik' },
  spec: { nodeName },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
})

replicas('two Ready on two nodes pass, naming them', () => {
  const check = replicasCheck([pod('traefik-a', 'n0'), pod('traefik-b', 'n1')], [node('n0'), node('n1')], 2)
  assert.is(check.status, 'pass')
  assert.is(check.detail, '2/2 Ready on 2 nodes (traefik-a on n0, traefik-b on n1)')
})

replicas('a NotReady node: its replica is not counted, even if the pod still says Ready (degraded)', () => {
  const check = replicasCheck([pod('traefik-a', 'n0'), pod('traefik-b', 'n1')], [node('n0'), node('n1', 'Unknown')], 2)
  assert.is(check.status, 'fail')
  assert.is(check.detail, 'degraded: 1/2 Ready (traefik-a on n0); not Ready: traefik-b on n1 (node NotReady)')
})

replicas('both Ready on one node while two are Ready: degraded; a one-node cluster only warns', () => {
  const shared = replicasCheck([pod('traefik-a', 'n0'), pod('traefik-b', 'n0')], [node('n0'), node('n1')], 2)
  assert.is(shared.status, 'fail')
  assert.match(shared.detail, /on 1 node\(s\) \(n0\) of 2 Ready: one node failure takes them all/)
  const single = replicasCheck([pod('traefik-a', 'n0'), pod('traefik-b', 'n0')], [node('n0')], 2)
  assert.is(single.status, 'warn')
})

replicas('a pending replacement pod is named as not scheduled', () => {
  const check = replicasCheck([pod('traefik-a', 'n0'), pod('traefik-c', undefined, false)], [node('n0'), node('n1', 'False')], 2)
  assert.is(check.status, 'fail')
  assert.match(check.detail, /traefik-c \(not scheduled\)/)
})

replicas('the PDB passes while it allows a disruption, fails when it allows none or is not evaluated', () => {
  const pdb = (status: any): Obj => ({ metadata: { name: 'traefik', namespace: 'traefik', generation: 1 }, spec: { maxUnavailable: 1 }, status })
  assert.equal(disruptionBudgetCheck(pdb({ observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 }), 'traefik/traefik'), {
    name: 'PodDisruptionBudget traefik/traefik allows a disruption',
    status: 'pass',
    detail: '1 allowed (2 healthy, 1 needed)',
  })
  const blocked = disruptionBudgetCheck(pdb({ observedGeneration: 1, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 }), 'traefik/traefik')
  assert.is(blocked.status, 'fail')
  assert.match(blocked.detail, /no disruption allowed \(1 healthy, 1 needed\)/)
  assert.is(disruptionBudgetCheck(pdb({}), 'traefik/traefik').status, 'fail')
  assert.is(disruptionBudgetCheck(undefined, 'traefik/traefik').detail, 'missing (rerun 02-traefik)')
})

replicas.run()
