/* Micro-benchmark of rt_classify() on two 16 KiB responses through a proxy:
 * a 200 OK HTML page without any marker, and a Cloudflare 403 challenge
 * page (with and without its cf-mitigated header, so the body scan is
 * measured too). Not part of ctest. Build without sanitizers for figures:
 *
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-rel --target bench_classify && ./build-rel/bench_classify
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/errors/classify.h"

#define PAGE 16384

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Fills buf with head, then filler paragraphs, then tail, PAGE bytes in all. */
static void page(char *buf, const char *head, const char *tail)
{
    static const char para[] =
        "<p class=\"text\">Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
        "eiusmod tempor incididunt ut labore et dolore magna aliqua. <a href=\"/next\">More</a></p>\n";
    size_t hl = strlen(head), tl = strlen(tail), n = 0;
    memcpy(buf, head, hl);
    n = hl;
    while (n + sizeof para - 1 + tl <= PAGE) {
        memcpy(buf + n, para, sizeof para - 1);
        n += sizeof para - 1;
    }
    memset(buf + n, ' ', PAGE - tl - n);
    memcpy(buf + PAGE - tl, tail, tl);
}

static double run(const char *label, const rt_classify_in *in, const rt_sigset *set, long iters)
{
    rt_classify_out out;
    rt_classify(in, set, &out); /* warm up */
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        rt_classify(in, set, &out);
        __asm__ volatile("" : : "r"(&out) : "memory");
    }
    double ns = (now_ns() - t0) / (double)iters;
    printf("%-44s %9.0f ns  -> %s (%s)\n", label, ns, rt_code_name(out.code), out.evidence);
    return ns;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    char err[256];
    rt_sigset *set = rt_sigset_new();
    if (!set || rt_sigset_add_builtin(set, err, sizeof err) != 0) {
        fprintf(stderr, "builtin signatures: %s\n", err);
        return 1;
    }
    static char ok_page[PAGE], cf_page[PAGE];
    page(ok_page, "<!DOCTYPE html><html lang=\"en\"><head><title>Catalogue</title></head><body>\n",
         "</body></html>\n");
    page(cf_page,
         "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
         "<meta http-equiv=\"refresh\" content=\"390\"></head><body>\n",
         "<script>(function(){window._cf_chl_opt={cvId: '3',cZone: 'example.com',cType: 'managed'};"
         "var cpo=document.createElement('script');cpo.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';"
         "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>\n");

    rt_http_hdr ok_h[] = {
        { RT_SLICE_LIT("Server"), RT_SLICE_LIT("nginx/1.24.0") },
        { RT_SLICE_LIT("Date"), RT_SLICE_LIT("Tue, 10 Jun 2025 10:00:00 GMT") },
        { RT_SLICE_LIT("Content-Type"), RT_SLICE_LIT("text/html; charset=utf-8") },
        { RT_SLICE_LIT("Content-Length"), RT_SLICE_LIT("16384") },
        { RT_SLICE_LIT("Cache-Control"), RT_SLICE_LIT("max-age=60") },
        { RT_SLICE_LIT("Via"), RT_SLICE_LIT("1.1 proxy1 (squid/6.10)") },
    };
    rt_http_hdr cf_h[] = {
        { RT_SLICE_LIT("Date"), RT_SLICE_LIT("Tue, 10 Jun 2025 10:00:00 GMT") },
        { RT_SLICE_LIT("Content-Type"), RT_SLICE_LIT("text/html; charset=UTF-8") },
        { RT_SLICE_LIT("Cache-Control"), RT_SLICE_LIT("private, max-age=0, no-store, no-cache") },
        { RT_SLICE_LIT("Server"), RT_SLICE_LIT("cloudflare") },
        { RT_SLICE_LIT("CF-RAY"), RT_SLICE_LIT("8f1c2d3e4a5b6c7d-FRA") },
        { RT_SLICE_LIT("cf-mitigated"), RT_SLICE_LIT("challenge") },
    };
    rt_classify_in in = {
        .phase = RT_PH_RESPONSE, .via_proxy = true, .sent_credentials = true, .method = RT_M_GET,
        .host = RT_SLICE_LIT("shop.example.com"), .status = 200, .reason = RT_SLICE_LIT("OK"),
        .hdrs = ok_h, .nhdrs = 6, .body = { ok_page, PAGE }, .body_total = PAGE,
    };
    printf("rt_classify, %ld iterations each, %zu built-in signatures\n", iters, rt_sigset_count(set));
    run("200 OK, 16 KiB HTML, no markers", &in, set, iters);
    in.status = 403;
    in.reason = RT_SLICE_LIT("Forbidden");
    in.hdrs = cf_h;
    in.body = (rt_slice){ cf_page, PAGE };
    in.body_total = 0;
    run("403 Cloudflare, 16 KiB, cf-mitigated header", &in, set, iters);
    in.nhdrs = 5; /* drop cf-mitigated: the body scan must decide */
    run("403 Cloudflare, 16 KiB, body markers only", &in, set, iters);
    in.status = 403;
    in.hdrs = ok_h;
    in.nhdrs = 5;
    in.body = (rt_slice){ ok_page, PAGE };
    run("403 16 KiB HTML, no markers (worst case)", &in, set, iters);
    rt_sigset_free(set);
    return 0;
}
