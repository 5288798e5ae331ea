/* Active health checks (--health-check URL): a thread of its own fetches
 * URL through every pool entry each --health-interval. An entry whose own
 * hop fails (the classifier's proxy or proxy-network codes) twice in a row
 * is quarantined on every worker; when it passes again it is readmitted.
 * A failure of the target's side (the URL's site is down) says nothing
 * about the entry and changes nothing. */
#ifndef ROTOR_GATEWAY_HEALTH_H
#define ROTOR_GATEWAY_HEALTH_H

#include <stddef.h>

typedef struct gw_server gw_server;
typedef struct gw_health gw_health;

#define GW_HEALTH_FAILS 2       /* consecutive failed checks before quarantine */
#define GW_HEALTH_PARALLEL 32   /* checks under way at once */
#define GW_HEALTH_MAX_ENTRIES 4096 /* entries checked per round (the first ones) */

/* Start the checker when --health-check is set (else a no-op returning 0).
 * Returns 0, or -1 with err set. */
int gw_health_start(gw_server *s, char *err, size_t errlen);
void gw_health_stop(gw_server *s);

#endif
