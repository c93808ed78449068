/**
 * "Is this ours?": the one place that decides. Every object the kit creates carries the managed-by
 * label and the configuration (instance) that made it; the helm release carries the same label in
 * helm's own release metadata (`helm upgrade --labels`). The kit modifies, prunes and deletes only
 * objects of its own instance. Anything else with a name the kit wants is refused, naming the object
 * and the ways out, unless the user says --adopt.
 *
 * The instance is INSTANCE when set, else `<TRAEFIK_NAMESPACE>.<DOMAIN>`: two env files for two
 * domains are two instances. The kubeconfig context is left out on purpose: two people may name the
 * same cluster differently.
 */
import { createHash } from 'node:crypto'
import type { Config } from '../config/config.ts'
import { EXIT, UserError } from '../base/errors.ts'

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'
export const MANAGED_BY = 'homelab-ingress'
export const INSTANCE_LABEL = 'homelab-ingress/instance'

/** The apiVersion of the IngressRoutes the kit writes and reads (Traefik v3's group). */
export const INGRESSROUTES = 'traefik.io/v1alpha1'

/** Label values: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function instanceOf(config: Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>): string {
  if (config.instance) return config.instance
  const derived = `${config.traefikNamespace}.${config.domain}`
  if (derived.length <= 63) return derived
  const hash = createHash('sha256').update(derived).digest('hex').slice(0, 8)
  return `${derived.slice(0, 54).replace(/[.-]+$/, '')}-${hash}`
}

export function ownershipLabels(config: Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [INSTANCE_LABEL]: instanceOf(config) }
}

/** Selects every object any configuration of the kit made; `ownerOf` then tells whose. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`

/**
 * - ours: made by this configuration.
 * - legacy: made by the kit before objects carried their instance (a single configuration then);
 *   taken as ours, and labelled with the instance on the next write.
 * - other-instance: made by the kit for another configuration.
 * - foreign: not made by the kit.
 */
export type Owner = 'ours' | 'legacy' | 'other-instance' | 'foreign'

export function ownerOf(labels: Record<string, string> | undefined, config: Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>): Owner {
  if (labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return 'foreign'
  const instance = labels[INSTANCE_LABEL]
  if (instance === undefined) return 'legacy'
  return instance === instanceOf(config) ? 'ours' : 'other-instance'
}

export const isOurs = (owner: Owner) => owner === 'ours' || owner === 'legacy'

/**
 * The acme.json volume: helm keeps it when the release goes (helm.sh/resource-policy: keep), and
 * the chart labels it as helm's, not the kit's; the kit annotates it with its instance through the
 * chart's values. Without the annotation it is not known to be ours.
 */
export function volumeOwner(annotations: Record<string, string> | undefined, config: Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>): Owner {
  const instance = annotations?.[INSTANCE_LABEL]
  if (instance === undefined) return 'foreign'
  return instance === instanceOf(config) ? 'ours' : 'other-instance'
}

/** An existing object the kit wants to write: whose it is, and what the user can do about it. */
export type Claim = { ref: string; owner: Owner; instance?: string; wayOut: string }

export function claimOf(ref: string, labels: Record<string, string> | undefined, config: Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>, wayOut: string): Claim {
  return { ref, owner: ownerOf(labels, config), instance: labels?.[INSTANCE_LABEL], wayOut }
}

/**
 * Refuses to touch objects the kit did not create for this configuration, naming each with its
 * own way out (rename, delete it yourself); --adopt is always offered.
 */
export function refuseUnowned(claims: Claim[], config: Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>, adopt: boolean): void {
  const blocked = claims.filter((c) => !isOurs(c.owner))
  if (blocked.length === 0 || adopt) return
  throw new UserError(
    `refusing to change ${blocked.length === 1 ? 'an object' : `${blocked.length} objects`} this configuration (instance ${instanceOf(config)}) did not create; nothing was changed:`,
    EXIT.precondition,
    [
      ...blocked.map((c) =>
        c.owner === 'other-instance'
          ? `${c.ref} belongs to another homelab-ingress configuration (instance ${c.instance}); ${c.wayOut}`
          : `${c.ref} was not created by homelab-ingress; ${c.wayOut}`,
      ),
      'or, if it should be managed by this configuration from now on, rerun with --adopt (the kit then overwrites it with its own version)',
    ],
  )
}
