#include "core/errors/vocab.h"

#include <string.h>

static const rt_code_info table[RT_E__COUNT] = {
#define X(code, origin, cls, status, pstype, fix) \
    [RT_E_##code] = { #code, RT_ORIGIN_##origin, RT_CLASS_##cls, status, pstype, fix },
#include "core/errors/vocab.def"
#undef X
};

const rt_code_info *rt_code_get(rt_code c)
{
    if ((unsigned)c >= RT_E__COUNT)
        c = RT_E_gateway_internal_error;
    return &table[c];
}

const char *rt_code_name(rt_code c) { return rt_code_get(c)->name; }

rt_code rt_code_by_name(const char *name, size_t n)
{
    for (int i = 0; i < RT_E__COUNT; i++)
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0)
            return (rt_code)i;
    return RT_E__COUNT;
}
