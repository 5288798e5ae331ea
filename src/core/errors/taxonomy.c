#include "core/errors/taxonomy.h"

const char *rt_origin_name(rt_origin o)
{
    switch (o) {
    case RT_ORIGIN_NONE: return "";
    case RT_ORIGIN_CLIENT: return "client";
    case RT_ORIGIN_GATEWAY: return "gateway";
    case RT_ORIGIN_PROXY: return "proxy";
    case RT_ORIGIN_TARGET: return "target";
    case RT_ORIGIN_NETWORK: return "network";
    }
    return "?";
}

const char *rt_class_name(rt_class c)
{
    switch (c) {
    case RT_CLASS_NONE: return "none";
    case RT_CLASS_RETRY_NOW: return "retry_now";
    case RT_CLASS_BACKOFF: return "backoff";
    case RT_CLASS_ROTATE: return "rotate";
    case RT_CLASS_FIX: return "fix";
    case RT_CLASS_ABORT: return "abort";
    }
    return "?";
}
