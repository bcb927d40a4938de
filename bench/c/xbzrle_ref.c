/*
 * Plain C reference for livemig's codec benchmark (bench/codec.bench.ts).
 *
 * QEMU's generic (non-AVX-512) XBZRLE algorithm (migration/xbzrle.c, xbzrle_encode_buffer and
 * xbzrle_decode_buffer; the format is in docs/stream-format.md): a word-at-a-time encoder (unsigned long
 * compares; the "has a zero byte" test (x - 0x01..01) & ~x & 0x80..80 on old ^ new to
 * find where a changed run ends), the decoder with QEMU's rejection rules, and a zero-page
 * test that ORs eight words at a time.
 *
 *   page  = zrun nzrun | zrun nzrun page
 *   zrun  = length                   ; count of unchanged bytes
 *   nzrun = length byte...           ; count of changed bytes, then the NEW bytes
 *   length = ULEB128, at most two bytes
 *
 * It builds the same page sets as the TypeScript side (same xorshift32 generator, same
 * seeds; the bench compares the hashes printed here), then:
 *
 *   xbzrle_ref <pages> check <file>          writes, for each pattern and page, the
 *                                            encoder's result and bytes (for the bench's
 *                                            byte-for-byte cross-check with livemig)
 *   xbzrle_ref <pages> bench <rep_ms> <reps> times each case alone; one JSON object a line
 *   xbzrle_ref <pages> serve <in> <out>      times on request, so the bench can interleave
 *                                            C repetitions with its own: reads lines
 *                                            "calibrate <case> <ms>" (warms up, replies the
 *                                            passes that take about ms) and "run <case>
 *                                            <passes>" (replies ns per page) from the FIFO
 *                                            <in>, replies one line each to the FIFO <out>
 *
 * Build: cc -O2 -o xbzrle_ref bench/c/xbzrle_ref.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096
#define SEED_DATA 0x9E3779B9u
#define SEED_SCATTER 0x2545F491u
#define CHANGE 0xA5u /* changed bytes are old ^ CHANGE */

typedef unsigned long word_t;
#define WORD_BYTES ((int)sizeof(word_t))
#define ONES ((word_t)0x0101010101010101ULL)
#define HIGHS (ONES << 7)

static inline word_t load_word(const uint8_t *p)
{
    word_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* ---- ULEB128 "small" (at most 14 bits) ---- */

static inline int uleb_put(uint8_t *p, uint32_t n)
{
    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    p[0] = (uint8_t)((n & 0x7f) | 0x80);
    p[1] = (uint8_t)(n >> 7);
    return 2;
}

/* Bytes read, or -1 for a three-byte form. */
static inline int uleb_get(const uint8_t *p, uint32_t *n)
{
    uint32_t b0 = p[0];
    if (!(b0 & 0x80)) {
        *n = b0;
        return 1;
    }
    uint32_t b1 = p[1];
    if (b1 & 0x80) {
        *n = b0 & 0x7f;
        return -1;
    }
    *n = (b0 & 0x7f) | (b1 << 7);
    return 2;
}

/* ---- encoder: bytes written, 0 when unchanged, -1 when it does not fit in dlen ---- */

__attribute__((noinline))
int ref_encode(const uint8_t *old, const uint8_t *cur, int slen, uint8_t *dst, int dlen)
{
    int d = 0;
    int i = 0;

    while (i < slen) {
        if (d + 2 > dlen)
            return -1;

        /* zero run: bytes up to a word boundary (counted from the page end), then words */
        int start = i;
        int head = (slen - i) % WORD_BYTES;
        while (head > 0 && old[i] == cur[i]) {
            i++;
            head--;
        }
        if (head == 0) {
            while (i < slen && load_word(old + i) == load_word(cur + i))
                i += WORD_BYTES;
            while (i < slen && old[i] == cur[i])
                i++;
        }
        int zrun = i - start;
        if (zrun == slen)
            return 0;          /* page unchanged */
        if (i == slen)
            return d;          /* the trailing zero run is not written */
        d += uleb_put(dst + d, (uint32_t)zrun);
        if (d + 2 > dlen)
            return -1;

        /* changed run: bytes up to a word boundary, then words until one holds an equal byte */
        start = i;
        head = (slen - i) % WORD_BYTES;
        while (head > 0 && old[i] != cur[i]) {
            i++;
            head--;
        }
        if (head == 0) {
            while (i < slen) {
                word_t x = load_word(old + i) ^ load_word(cur + i);
                if ((x - ONES) & ~x & HIGHS) {
                    /* an equal byte is in this word: the run ends there */
                    while (old[i] != cur[i])
                        i++;
                    break;
                }
                i += WORD_BYTES;
            }
        }
        int nzrun = i - start;
        d += uleb_put(dst + d, (uint32_t)nzrun);
        if (d + nzrun > dlen)
            return -1;
        memcpy(dst + d, cur + start, (size_t)nzrun);
        d += nzrun;
    }
    return d;
}

/* ---- decoder: patches dst in place; offset past the last changed run, or -1 ---- */

__attribute__((noinline))
int ref_decode(const uint8_t *src, int slen, uint8_t *dst, int dlen)
{
    int i = 0;
    int d = 0;
    uint32_t n;
    int k;

    while (i < slen) {
        if (slen - i < 2)
            return -1;
        k = uleb_get(src + i, &n);
        if (k < 0)
            return -1;
        if (i != 0 && n == 0)
            return -1;          /* only the first zero run may be empty */
        i += k;
        d += (int)n;
        if (d > dlen)
            return -1;
        if (slen - i < 2)
            return -1;          /* a length and at least one byte */
        k = uleb_get(src + i, &n);
        if (k < 0)
            return -1;
        if (n == 0)
            return -1;
        i += k;
        if (d + (int)n > dlen || i + (int)n > slen)
            return -1;
        memcpy(dst + d, src + i, n);
        d += (int)n;
        i += (int)n;
    }
    return d;
}

/* ---- zero-page test: eight words ORed per step (len a multiple of 8 words) ---- */

__attribute__((noinline))
int ref_is_zero(const uint8_t *p, int len)
{
    for (int i = 0; i < len; i += 8 * WORD_BYTES) {
        word_t acc = load_word(p + i) | load_word(p + i + WORD_BYTES) |
                     load_word(p + i + 2 * WORD_BYTES) | load_word(p + i + 3 * WORD_BYTES) |
                     load_word(p + i + 4 * WORD_BYTES) | load_word(p + i + 5 * WORD_BYTES) |
                     load_word(p + i + 6 * WORD_BYTES) | load_word(p + i + 7 * WORD_BYTES);
        if (acc)
            return 0;
    }
    return 1;
}

/*
 * ---- the memory's ceiling: not QEMU's algorithm ----
 * Whether two pages are equal, 128 bytes (eight 16-byte vectors, GCC/clang vector extension)
 * per test: about the least work a page comparison can do, so on a working set in DRAM its
 * speed is what the memory gives a compare of old and new pages (the bench's "ceiling").
 */
typedef unsigned long long vec_t __attribute__((vector_size(16)));

static inline vec_t load_vec(const uint8_t *p)
{
    vec_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

__attribute__((noinline))
int ref_pages_differ(const uint8_t *a, const uint8_t *b, int len)
{
    for (int i = 0; i < len; i += 128) {
        vec_t x = (load_vec(a + i) ^ load_vec(b + i)) | (load_vec(a + i + 16) ^ load_vec(b + i + 16)) |
                  (load_vec(a + i + 32) ^ load_vec(b + i + 32)) | (load_vec(a + i + 48) ^ load_vec(b + i + 48)) |
                  (load_vec(a + i + 64) ^ load_vec(b + i + 64)) | (load_vec(a + i + 80) ^ load_vec(b + i + 80)) |
                  (load_vec(a + i + 96) ^ load_vec(b + i + 96)) | (load_vec(a + i + 112) ^ load_vec(b + i + 112));
        if (x[0] | x[1])
            return 1;
    }
    return 0;
}

/* ---- page sets: must match bench/patterns.ts ---- */

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

enum { P_UNCHANGED, P_SPARSE, P_SCATTER16, P_DENSE, P_COUNT };
static const char *const pattern_names[P_COUNT] = { "unchanged", "sparse", "scatter16", "dense" };

static void fill_old(uint8_t *old, size_t pages)
{
    uint32_t s = SEED_DATA;
    for (size_t k = 0; k < pages * PAGE; k += 4) {
        uint32_t r = xorshift32(&s);
        old[k] = (uint8_t)r;
        old[k + 1] = (uint8_t)(r >> 8);
        old[k + 2] = (uint8_t)(r >> 16);
        old[k + 3] = (uint8_t)(r >> 24);
    }
}

static void make_cur(int pattern, const uint8_t *old, uint8_t *cur, size_t pages)
{
    memcpy(cur, old, pages * PAGE);
    uint32_t s = SEED_SCATTER;
    for (size_t i = 0; i < pages; i++) {
        size_t base = i * PAGE;
        switch (pattern) {
        case P_SPARSE: {
            size_t at = base + ((1234 + i) & (PAGE - 1));
            cur[at] = old[at] ^ CHANGE;
            break;
        }
        case P_SCATTER16:
            for (int k = 0; k < 16; k++) {
                size_t at = base + (xorshift32(&s) & (PAGE - 1));
                cur[at] = old[at] ^ CHANGE;
            }
            break;
        case P_DENSE:
            for (size_t k = 0; k < PAGE; k += 2)
                cur[base + k] = old[base + k] ^ CHANGE;
            break;
        default:
            break;
        }
    }
}

/* FNV-1a style over little-endian 32-bit words, to prove both sides built the same bytes. */
static uint32_t hash_words(const uint8_t *p, size_t bytes)
{
    uint32_t h = 0x811C9DC5u;
    for (size_t k = 0; k < bytes; k += 4) {
        uint32_t w = (uint32_t)p[k] | (uint32_t)p[k + 1] << 8 | (uint32_t)p[k + 2] << 16 |
                     (uint32_t)p[k + 3] << 24;
        h = (h ^ w) * 0x01000193u;
    }
    return h;
}

/* ---- cases ---- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile long sink;

/* The cases, by the names the bench uses; the last three are not encoder patterns. */
enum { C_DECODE = P_COUNT, C_ZERO, C_CEILING, C_COUNT };
static const char *const case_names[C_COUNT] = { "unchanged", "sparse", "scatter16", "dense", "decode-sparse", "zero", "ceiling" };

struct bench {
    size_t pages;
    uint8_t *old, *cur, *work, *deltas, *out;
    int *delta_off;     /* delta i is deltas[delta_off[i] .. delta_off[i + 1]) */
    int prepared;       /* the case the buffers hold, or -1 */
};

static int case_index(const char *name)
{
    for (int c = 0; c < C_COUNT; c++)
        if (strcmp(name, case_names[c]) == 0)
            return c;
    return -1;
}

/* Fills cur (and for decode the packed sparse deltas and a copy of old to patch). */
static void prepare(struct bench *b, int c)
{
    if (c == C_CEILING)
        c = P_UNCHANGED; /* the same pages: the bench alternates the two */
    if (b->prepared == c)
        return;
    size_t bytes = b->pages * PAGE;
    if (c == C_ZERO) {
        memset(b->cur, 0, bytes);
    } else if (c == C_DECODE) {
        make_cur(P_SPARSE, b->old, b->cur, b->pages);
        int at = 0;
        for (size_t i = 0; i < b->pages; i++) {
            b->delta_off[i] = at;
            at += ref_encode(b->old + i * PAGE, b->cur + i * PAGE, PAGE, b->deltas + at, PAGE);
        }
        b->delta_off[b->pages] = at;
        memcpy(b->work, b->old, bytes);
    } else {
        make_cur(c, b->old, b->cur, b->pages);
    }
    b->prepared = c;
}

/* One pass over the set: every page once. */
static long run_pass(const struct bench *b, int c)
{
    long s = 0;
    if (c == C_ZERO) {
        for (size_t i = 0; i < b->pages; i++)
            s += ref_is_zero(b->cur + i * PAGE, PAGE);
    } else if (c == C_CEILING) {
        for (size_t i = 0; i < b->pages; i++)
            s += ref_pages_differ(b->old + i * PAGE, b->cur + i * PAGE, PAGE);
    } else if (c == C_DECODE) {
        for (size_t i = 0; i < b->pages; i++)
            s += ref_decode(b->deltas + b->delta_off[i], b->delta_off[i + 1] - b->delta_off[i],
                            b->work + i * PAGE, PAGE);
    } else {
        for (size_t i = 0; i < b->pages; i++)
            s += ref_encode(b->old + i * PAGE, b->cur + i * PAGE, PAGE, b->out, PAGE);
    }
    return s;
}

/* Warms up for about ms / 2, returns the passes that take about ms. */
static long calibrate(struct bench *b, int c, double ms)
{
    prepare(b, c);
    double t0 = now_ns();
    long passes = 0;
    while (now_ns() - t0 < ms * 1e6 / 2 || passes < 2) {
        sink += run_pass(b, c);
        passes++;
    }
    t0 = now_ns();
    long n = 0;
    while (now_ns() - t0 < ms * 1e6 / 4 || n < 1) {
        sink += run_pass(b, c);
        n++;
    }
    double per_pass = (now_ns() - t0) / (double)n;
    long loops = (long)(ms * 1e6 / per_pass + 0.5);
    return loops < 1 ? 1 : loops;
}

/* ns per page over `passes` passes. */
static double run(struct bench *b, int c, long passes)
{
    prepare(b, c);
    double t0 = now_ns();
    for (long l = 0; l < passes; l++)
        sink += run_pass(b, c);
    return (now_ns() - t0) / ((double)passes * (double)b->pages);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void bench_all(struct bench *b, double rep_ms, int reps)
{
    double ns[64];
    if (reps > 64)
        reps = 64;
    for (int c = 0; c < C_COUNT; c++) {
        long loops = calibrate(b, c, rep_ms);
        for (int r = 0; r < reps; r++)
            ns[r] = run(b, c, loops);
        double sorted[64];
        memcpy(sorted, ns, sizeof(double) * (size_t)reps);
        qsort(sorted, (size_t)reps, sizeof(double), cmp_double);
        double med = reps % 2 ? sorted[reps / 2] : (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
        printf("{\"case\":\"%s\",\"nsPerPage\":%.4f,\"gbps\":%.4f,\"pages\":%zu,\"loops\":%ld,\"repsNsPerPage\":[",
               case_names[c], med, PAGE / med, b->pages, loops);
        for (int r = 0; r < reps; r++)
            printf("%s%.4f", r ? "," : "", ns[r]);
        printf("]}\n");
        fflush(stdout);
    }
}

static int serve(struct bench *b, const char *in_path, const char *out_path)
{
    FILE *in = fopen(in_path, "r");
    FILE *out = in ? fopen(out_path, "w") : NULL;
    if (!in || !out) {
        perror("xbzrle_ref: serve");
        return 1;
    }
    char line[256], name[64];
    double arg;
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "quit", 4) == 0)
            break;
        int c = -1;
        if (sscanf(line, "calibrate %63s %lf", name, &arg) == 2 && (c = case_index(name)) >= 0)
            fprintf(out, "%ld\n", calibrate(b, c, arg));
        else if (sscanf(line, "run %63s %lf", name, &arg) == 2 && (c = case_index(name)) >= 0)
            fprintf(out, "%.4f\n", run(b, c, (long)arg));
        else
            fprintf(out, "error: %s", line);
        fflush(out);
    }
    fclose(in);
    fclose(out);
    return 0;
}

static int check(struct bench *b, const char *path)
{
    /* per pattern, per page: i32 result (host order, little-endian here), then that many bytes */
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t bytes = b->pages * PAGE;
    for (int p = 0; p < P_COUNT; p++) {
        make_cur(p, b->old, b->cur, b->pages);
        printf("{\"hash\":\"%s\",\"old\":%u,\"cur\":%u}\n", pattern_names[p], hash_words(b->old, bytes),
               hash_words(b->cur, bytes));
        memcpy(b->work, b->old, bytes);
        for (size_t i = 0; i < b->pages; i++) {
            int32_t r = ref_encode(b->old + i * PAGE, b->cur + i * PAGE, PAGE, b->out, PAGE);
            fwrite(&r, sizeof r, 1, f);
            if (r > 0)
                fwrite(b->out, 1, (size_t)r, f);
            /* decoding what was encoded must give the new page back (an overflow goes whole) */
            if (r < 0)
                memcpy(b->work + i * PAGE, b->cur + i * PAGE, PAGE);
            else if (ref_decode(b->out, r, b->work + i * PAGE, PAGE) < 0) {
                fprintf(stderr, "xbzrle_ref: decode rejected page %zu of %s\n", i, pattern_names[p]);
                return 1;
            }
        }
        if (memcmp(b->work, b->cur, bytes) != 0) {
            fprintf(stderr, "xbzrle_ref: round trip failed for %s\n", pattern_names[p]);
            return 1;
        }
    }
    memset(b->cur, 0, bytes);
    int zeros = 0;
    for (size_t i = 0; i < b->pages; i++)
        zeros += ref_is_zero(b->cur + i * PAGE, PAGE);
    printf("{\"zeroPages\":%d}\n", zeros);
    b->prepared = -1;
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    size_t pages = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    const char *mode = argc > 2 ? argv[2] : "";
    int ok = pages > 0 && ((strcmp(mode, "check") == 0 && argc == 4) || (strcmp(mode, "bench") == 0 && argc == 5) ||
                           (strcmp(mode, "serve") == 0 && argc == 5));
    if (!ok) {
        fprintf(stderr, "usage: %s <pages> check <file> | <pages> bench <rep_ms> <reps> | <pages> serve <in> <out>\n",
                argv[0]);
        return 2;
    }
    size_t bytes = pages * PAGE;
    struct bench b = { .pages = pages, .prepared = -1 };
    b.old = aligned_alloc(64, bytes);
    b.cur = aligned_alloc(64, bytes);
    b.work = aligned_alloc(64, bytes);
    b.deltas = aligned_alloc(64, bytes);
    b.out = aligned_alloc(64, PAGE);
    b.delta_off = malloc((pages + 1) * sizeof(int));
    if (!b.old || !b.cur || !b.work || !b.deltas || !b.out || !b.delta_off) {
        fprintf(stderr, "xbzrle_ref: out of memory\n");
        return 1;
    }
    fill_old(b.old, pages);

    if (strcmp(mode, "check") == 0)
        return check(&b, argv[3]);
    if (strcmp(mode, "serve") == 0)
        return serve(&b, argv[3], argv[4]);
    bench_all(&b, strtod(argv[3], NULL), atoi(argv[4]));
    return 0;
}
