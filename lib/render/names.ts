/** Names the render layer shares: the release, its Services and entrypoints, the dashboard host. */
export const RELEASE_NAME = 'traefik'
/** Names the Traefik chart gives the two Services for release `traefik`. */
export const EXTERNAL_SERVICE = 'traefik'
export const INTERNAL_SERVICE = 'traefik-internal'
export const PUBLIC_ENTRYPOINTS = ['web', 'websecure']
export const INTERNAL_ENTRYPOINTS = ['intweb', 'intwebsec']
export const DASHBOARD_HOST_NAME = 'traefik'
