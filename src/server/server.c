#include "server/server.h"

#include "core/clock.h"
#include "server/settings.h"

#define REALTIME_MAXDELTA (60 * 60 * 24 * 30) /* memcached: larger values are absolute */

uint32_t server_exptime(int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; /* in the past: gone at once, as memcached does */
    if (exptime > REALTIME_MAXDELTA) {
        /* an absolute time at or before start-up counts as already expired */
        if (exptime <= (int64_t)clock_started())
            return 1;
        return exptime > UINT32_MAX ? UINT32_MAX : (uint32_t)exptime;
    }
    return clock_now() + (uint32_t)exptime;
}

uint64_t server_cas(const struct server *srv, uint64_t version)
{
    return srv->settings->use_cas ? version : 0;
}
