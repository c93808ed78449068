/** CRDs the gateway-mode integration tests install: cert-manager's (from its chart) and the Gateway API's standard channel (test/cluster: gateway-api). */
import fs from 'node:fs'
import path from 'node:path'
import { applyYaml, CLUSTER_SH, kubectl, kubectlMaybe, sh } from './harness.ts'

export function installCertManagerCrds(): void {
  const chart = sh('bash', [CLUSTER_SH, 'bin', 'cert-manager-chart']).stdout.trim()
  const crds = fs.readdirSync(path.join(chart, 'templates')).filter((f) => /^crd-.*\.yaml$/.test(f))
  const rendered = sh('helm', ['template', 'cert-manager', chart, '--namespace', 'cert-manager', '--set', 'crds.enabled=true', ...crds.flatMap((f) => ['--show-only', `templates/${f}`])]).stdout
  sh('kubectl', ['--context=homelab-test', 'apply', '--server-side', '--force-conflicts', '-f', '-'], { input: rendered })
  kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io', 'crd/clusterissuers.cert-manager.io')
  applyYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n')
}

export function installGatewayApiCrds(): void {
  const dir = sh('bash', [CLUSTER_SH, 'bin', 'gateway-api-crds']).stdout.trim()
  kubectl('apply', '--server-side', '-f', dir)
  kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/gateways.gateway.networking.k8s.io', 'crd/httproutes.gateway.networking.k8s.io', 'crd/gatewayclasses.gateway.networking.k8s.io')
}

export function removeCrds(groupPattern: RegExp): void {
  const crds = kubectlMaybe('get', 'customresourcedefinitions', '-o', 'json')
  const names = crds.code === 0 ? JSON.parse(crds.stdout).items.filter((c: any) => groupPattern.test(c.spec.group)).map((c: any) => c.metadata.name) : []
  if (names.length) kubectlMaybe('delete', 'customresourcedefinitions', ...names, '--wait=true')
}

