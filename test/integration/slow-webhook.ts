/**
 * A slow part for "killed half-way" tests: a validating admission webhook, served by the test on
 * 127.0.0.1 and registered with the real API server, that holds every write of a Deployment in the
 * traefik namespace until the test lets it go (or the API server gives up after 30 s and, with
 * failurePolicy Ignore, lets the write through). A helm upgrade then sits in pending-upgrade for as
 * long as the test needs, as one does behind a slow webhook or a slow API server.
 */
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { ServerResponse } from 'node:http'
import { makeCertificates } from '../certificates.ts'
import { applyYaml, kubectlMaybe } from './harness.ts'

const NAME = 'homelab-ingress-test-hold-deployments'

export type HeldWrites = {
  /** Deployment writes the API server has asked about and that are still held. */
  held: () => number
  /** Lets every held write through, unregisters the webhook and stops the server. */
  close: () => Promise<void>
}

/** Registers the webhook; returns undefined with a reason when it cannot (no openssl). */
export async function holdDeploymentWrites(): Promise<HeldWrites | string> {
  const certificates = makeCertificates(['127.0.0.1'])
  if (typeof certificates === 'string') return certificates
  const waiting: { response: ServerResponse; uid: string }[] = []
  const allow = ({ response, uid }: { response: ServerResponse; uid: string }) => {
    if (response.writableEnded || response.destroyed) return
    response.setHeader('Content-Type', 'application/json')
    response.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } }))
  }
  const server = https.createServer(certificates.hosts['127.0.0.1'], (request, response) => {
    let body = ''
    request.on('data', (chunk) => (body += chunk))
    request.on('end', () => {
      const uid = JSON.parse(body || '{}').request?.uid ?? ''
      waiting.push({ response, uid })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  applyYaml(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: ${NAME}}
webhooks:
- name: hold.deployments.homelab-ingress.test
  clientConfig: {url: "https://127.0.0.1:${port}/hold", caBundle: ${Buffer.from(certificates.ca).toString('base64')}}
  rules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments], scope: Namespaced}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: traefik}}
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 30
`)
  return {
    held: () => waiting.filter((w) => !w.response.writableEnded && !w.response.destroyed).length,
    close: async () => {
      kubectlMaybe('delete', 'validatingwebhookconfiguration', NAME, '--ignore-not-found')
      for (const w of waiting.splice(0)) allow(w)
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
