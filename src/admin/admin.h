/* The admin plane of `rotor serve`: an HTTP server on its own thread and
 * event loop (--admin ADDR:PORT) with Prometheus metrics, a JSON API, the
 * dashboard, operator actions, and the terminal status line. */
#ifndef ROTOR_ADMIN_ADMIN_H
#define ROTOR_ADMIN_ADMIN_H

#include <stddef.h>

typedef struct gw_server gw_server;

/* Start the admin thread when --admin is set or stderr is a terminal (the
 * status line; not with --quiet). The workers must be initialised. Returns
 * 0 (also when there is nothing to start) or -1 with err set: a refused or
 * unusable admin address, said with what to do. */
int adm_start(gw_server *s, char *err, size_t errlen);
/* Stop and join the admin thread; safe when none was started. Call before
 * the workers are freed. */
void adm_stop(gw_server *s);

#endif
