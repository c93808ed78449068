/**
 * 04's word on the admission guard: is the kit's ValidatingAdmissionPolicy with its binding in
 * place, as ADMISSION_GUARD says? The judgement is a pure function of the two objects; the read
 * beside it asks the API server for them and never fails the step itself.
 */
import type { Config } from '../config/config.ts'
import type { Cluster } from '../kube/cluster.ts'
import { retryTransient } from '../kube/cluster.ts'
import { isOurs, ownerOf } from '../kube/ownership.ts'
import { apiPath, rawGet, rawList } from '../kube/raw.ts'
import { errorText, firstLine } from '../base/errors.ts'
import { subsetDifference } from '../base/objects.ts'
import { ADMISSION_API, admissionGuardManifests, admissionGuardName, BINDING_KIND, POLICY_KIND, VALIDATION_ACTIONS } from '../render/admission.ts'
import type { Check, Obj } from './checks.ts'

/** What the cluster holds: `served: false` when it has no ValidatingAdmissionPolicy (Kubernetes < 1.30). */
export type GuardObjects = { served: boolean; policy?: Obj; binding?: Obj }

const RERUN = 'rerun 03-internal-routes'

export function admissionGuardCheck(config: Config, live: GuardObjects): Check {
  const mode = config.admissionGuard
  const name = admissionGuardName(config)
  const check = (status: Check['status'], detail: string): Check => ({
    name: `admission guard ValidatingAdmissionPolicy ${name} (ADMISSION_GUARD=${mode})`,
    status,
    detail,
  })
  const ours = (o: Obj | undefined) => o !== undefined && isOurs(ownerOf(o.metadata.labels, config))
  if (!live.served) {
    return check('skip', mode === 'off'
      ? 'off, and this cluster has no ValidatingAdmissionPolicy (Kubernetes < 1.30): the route audit alone'
      : 'this cluster has no ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30 or newer): nothing refuses an admin route on a public entrypoint before it exists; the route audit alone catches it')
  }
  if (mode === 'off') {
    const left = [ours(live.policy) && POLICY_KIND, ours(live.binding) && BINDING_KIND].filter((k) => k !== false)
    return left.length
      ? check('warn', `off, but this configuration's ${left.join(' and ')} ${left.length > 1 ? 'are' : 'is'} still there (${RERUN} to remove ${left.length > 1 ? 'them' : 'it'})`)
      : check('skip', 'off: no policy refuses an admin route on a public entrypoint; the route audit alone catches it')
  }
  const problems: string[] = []
  if (!live.policy) problems.push(`the policy is missing (${RERUN})`)
  else if (!ours(live.policy)) problems.push('a policy of that name exists that this configuration did not create')
  if (!live.binding) problems.push(`its binding is missing (${RERUN})`)
  else if (!ours(live.binding)) problems.push('a binding of that name exists that this configuration did not create')
  if (problems.length) return check('fail', problems.join('; '))

  const wanted = VALIDATION_ACTIONS[mode]
  const actions: string[] = live.binding!.spec?.validationActions ?? []
  if (live.binding!.spec?.policyName !== name) problems.push(`the binding names policy ${live.binding!.spec?.policyName ?? '(none)'} (${RERUN})`)
  if ([...actions].sort().join(',') !== [...wanted].sort().join(',')) {
    problems.push(`the binding's validationActions are [${actions.join(', ')}], ADMISSION_GUARD=${mode} wants [${wanted.join(', ')}] (${RERUN})`)
  }
  const [policy] = admissionGuardManifests(config)
  const differs = subsetDifference(policy.spec, live.policy!.spec)
  if (differs) problems.push(`the policy differs from this configuration's at spec.${differs}: INTERNAL_ROUTES changed since 03 ran, or it was edited (${RERUN})`)
  if (problems.length) return check('fail', problems.join('; '))
  return check('pass', `policy and binding in place, validationActions [${actions.join(', ')}]`)
}

/**
 * The policy and binding named `name`, read at once (03 reads them too). The policy is listed by
 * name: the list is 404 when the API server does not serve the kind at all (Kubernetes < 1.30).
 */
export async function readGuardObjects(cluster: Cluster, name: string): Promise<GuardObjects> {
  const [policies, binding] = await Promise.all([
    retryTransient(() => rawList(cluster, apiPath(ADMISSION_API, 'validatingadmissionpolicies', { query: { fieldSelector: `metadata.name=${name}` } }))),
    retryTransient(() => rawGet(cluster, apiPath(ADMISSION_API, 'validatingadmissionpolicybindings', { name }))),
  ])
  // A list's items carry no kind: the policy is given its own, as a read of it alone has them.
  const policy = policies?.items[0] && { apiVersion: ADMISSION_API, kind: POLICY_KIND, ...policies.items[0] }
  return { served: policies !== undefined, policy, binding }
}

/** Reads the guard's objects and judges them; a failed read is a failed check, never "nothing there". */
export async function readAdmissionGuardCheck(cluster: Cluster, config: Config): Promise<Check> {
  const name = admissionGuardName(config)
  try {
    return admissionGuardCheck(config, await readGuardObjects(cluster, name))
  } catch (err) {
    return { name: `admission guard ValidatingAdmissionPolicy ${name} (ADMISSION_GUARD=${config.admissionGuard})`, status: 'fail', detail: `cannot read it: ${firstLine(errorText(err))}` }
  }
}
