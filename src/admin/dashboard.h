/* The dashboard page, src/admin/dashboard.html, embedded at build time by
 * cmake/generated.cmake (one self-contained file: no CDN, no fonts). */
#ifndef ROTOR_ADMIN_DASHBOARD_H
#define ROTOR_ADMIN_DASHBOARD_H

#include <stddef.h>

extern const char adm_dashboard_html_text[]; /* NUL-terminated */
extern const size_t adm_dashboard_html_len;  /* without the NUL */

#endif
