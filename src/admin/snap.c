/* One reading of the gateway for a whole admin answer: the totals, the
 * upstream view and the policy view, taken together so that the JSON stats
 * and the Prometheus metrics read them the same way. */
#include "admin/adm_int.h"

void adm_snap_take(adm_server *a, adm_snap *sn)
{
    gw_stats_totals(a->s, &sn->t);
    sn->have_up = gw_stats_upstreams(a->s, &sn->uv) == 0;
    sn->have_pol = gw_stats_policy(a->s, &sn->pv) == 0;
}

void adm_snap_free(adm_snap *sn)
{
    if (sn->have_up)
        gw_up_view_free(&sn->uv);
    if (sn->have_pol)
        gw_policy_view_free(&sn->pv);
    sn->have_up = sn->have_pol = false;
}
