/*
 * ctl/jsonl: encode and decode the JSON lines backup format (see jsonl.h).
 *
 * The decoder is a small strict parser for one flat object: string,
 * unsigned integer, true/false/null members; nested objects or arrays are
 * an error, as is anything after the closing brace. It is not a general
 * JSON library and does not need to be: it reads what the encoder writes,
 * plus what a person may reasonably edit into it.
 */
#include "ctl/jsonl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl/b64.h"

/* --- encoding ------------------------------------------------------------ */

static bool is_text(const char *p, size_t n, bool value)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        bool ws = value && (ch == '\t' || ch == '\n' || ch == '\r');
        if ((ch < 0x20 || ch > 0x7e) && !ws)
            return false;
    }
    return true;
}

/* p[0..n) as a JSON string; only called on is_text bytes. */
static void put_str(struct buf *b, const char *p, size_t n)
{
    if (!buf_reserve(b, 2 * n + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = ch;
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            *o++ = '\\';
            *o++ = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
        } else {
            *o++ = ch;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
}

static void put_b64(struct buf *b, const char *p, size_t n)
{
    if (!buf_reserve(b, CTL_B64_LEN(n) + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    o += ctl_b64_encode(o, p, n);
    *o++ = '"';
    b->len = (size_t)(o - b->data);
}

/* "name": then text or "name_b64": base64 */
static void put_bytes(struct buf *b, const char *name, const char *p, size_t n, bool value)
{
    bool text = is_text(p, n, value);
    buf_printf(b, "\"%s%s\":", name, text ? "" : "_b64");
    if (text)
        put_str(b, p, n);
    else
        put_b64(b, p, n);
}

void ctl_jsonl_encode_header(struct buf *b, const struct xfer_meta *m)
{
    buf_printf(b, "{\"format\":\"%s\",\"format_version\":%d,\"node\":%u,\"created_ms\":%llu,"
                  "\"history\":%llu,\"log_pos\":%llu",
               CTL_JSONL_FORMAT, CTL_JSONL_VERSION, m->node, (unsigned long long)m->created_ms,
               (unsigned long long)m->history, (unsigned long long)m->log_pos);
    if (m->source) {
        buf_puts(b, ",");
        put_bytes(b, "source", m->source, strlen(m->source), false);
    }
    if (m->server) {
        buf_puts(b, ",");
        put_bytes(b, "server", m->server, strlen(m->server), false);
    }
    buf_puts(b, "}\n");
}

void ctl_jsonl_encode_item(struct buf *b, const struct xfer_item *it)
{
    buf_puts(b, "{");
    put_bytes(b, "key", it->key, it->nkey, false);
    buf_puts(b, ",");
    put_bytes(b, "value", it->value, it->nvalue, true);
    buf_printf(b, ",\"flags\":%u,\"exptime\":%u,\"version\":%llu%s}\n", it->flags, it->exptime,
               (unsigned long long)it->version, it->binary_key ? ",\"binary_key\":true" : "");
}

void ctl_jsonl_encode_end(struct buf *b, uint64_t records)
{
    buf_printf(b, "{\"end\":true,\"records\":%llu}\n", (unsigned long long)records);
}

/* --- decoding ------------------------------------------------------------ */

struct parser {
    char *p;
    size_t n, i;
    char *err;
    size_t errlen;
};

static bool fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct parser *ps, const char *fmt, ...)
{
    int k = snprintf(ps->err, ps->errlen, "column %zu: ", ps->i + 1);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < ps->errlen)
        vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return false;
}

static void ws(struct parser *ps)
{
    while (ps->i < ps->n && (ps->p[ps->i] == ' ' || ps->p[ps->i] == '\t' || ps->p[ps->i] == '\r'))
        ps->i++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Write code point cp as UTF-8 at o; the bytes written. */
static size_t utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \u escape at ps->i (after the backslash and 'u'), surrogate pairs joined. */
static bool unicode_escape(struct parser *ps, unsigned *cp)
{
    int hi = ps->i + 4 <= ps->n ? hex4(ps->p + ps->i) : -1;
    if (hi < 0)
        return fail(ps, "\\u needs four hex digits");
    ps->i += 4;
    *cp = (unsigned)hi;
    if (hi < 0xd800 || hi > 0xdfff)
        return true;
    int lo = -1;
    if (hi < 0xdc00 && ps->i + 6 <= ps->n && ps->p[ps->i] == '\\' && ps->p[ps->i + 1] == 'u')
        lo = hex4(ps->p + ps->i + 2);
    if (lo < 0xdc00 || lo > 0xdfff)
        return fail(ps, "unpaired UTF-16 surrogate in \\u escape");
    ps->i += 6;
    *cp = 0x10000 + (((unsigned)hi - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
    return true;
}

/* A string at ps->i (on the quote), decoded in place: *s and *len. */
static bool string(struct parser *ps, char **s, size_t *len)
{
    if (ps->i >= ps->n || ps->p[ps->i] != '"')
        return fail(ps, "expected a string");
    char *o = ps->p + ++ps->i;
    *s = o;
    while (ps->i < ps->n) {
        char ch = ps->p[ps->i++];
        if (ch == '"') {
            *len = (size_t)(o - *s);
            return true;
        }
        if ((unsigned char)ch < 0x20) {
            ps->i--;
            return fail(ps, "control byte 0x%02x inside a string (must be escaped)",
                        (unsigned char)ch);
        }
        if (ch != '\\') {
            *o++ = ch;
            continue;
        }
        if (ps->i >= ps->n)
            break;
        ch = ps->p[ps->i++];
        const char *simple = strchr("\"\\/bfnrt", ch);
        if (ch && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            *o++ = out[simple - "\"\\/bfnrt"];
        } else if (ch == 'u') {
            unsigned cp = 0;
            if (!unicode_escape(ps, &cp))
                return false;
            o += utf8(o, cp); /* at most 4 bytes from at least 6 read */
        } else {
            ps->i--;
            return fail(ps, "unknown escape \\%c", ch);
        }
    }
    return fail(ps, "unterminated string");
}

enum vtype { V_STR, V_NUM, V_TRUE, V_FALSE, V_NULL };

struct value {
    enum vtype type;
    char *s;
    size_t len;
    uint64_t num;
};

static bool literal(struct parser *ps, const char *word)
{
    size_t k = strlen(word);
    if (ps->i + k > ps->n || memcmp(ps->p + ps->i, word, k) != 0)
        return false;
    ps->i += k;
    return true;
}

static bool number(struct parser *ps, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = ps->i;
    while (ps->i < ps->n && ps->p[ps->i] >= '0' && ps->p[ps->i] <= '9') {
        uint64_t d = (uint64_t)(ps->p[ps->i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return fail(ps, "number too large");
        v = v * 10 + d;
        ps->i++;
    }
    if (ps->i == start)
        return fail(ps, "expected a value (string, unsigned integer, true, false or null)");
    if (ps->i - start > 1 && ps->p[start] == '0') {
        ps->i = start;
        return fail(ps, "number with a leading zero");
    }
    if (ps->i < ps->n && strchr(".eE-+", ps->p[ps->i]))
        return fail(ps, "only unsigned integers are allowed here");
    *out = v;
    return true;
}

static bool value(struct parser *ps, struct value *v)
{
    if (ps->i < ps->n && ps->p[ps->i] == '"') {
        v->type = V_STR;
        return string(ps, &v->s, &v->len);
    }
    if (literal(ps, "true"))
        v->type = V_TRUE;
    else if (literal(ps, "false"))
        v->type = V_FALSE;
    else if (literal(ps, "null"))
        v->type = V_NULL;
    else if (ps->i < ps->n && (ps->p[ps->i] == '{' || ps->p[ps->i] == '['))
        return fail(ps, "nested objects and arrays are not part of the format");
    else {
        v->type = V_NUM;
        return number(ps, &v->num);
    }
    return true;
}

/* The members seen, before they are checked against the line's kind. */
struct members {
    struct value key, key_b64, value, value_b64, source, source_b64, server, server_b64;
    bool has_key, has_key_b64, has_value, has_value_b64, has_source, has_source_b64;
    bool has_server, has_server_b64;
    bool has_flags, has_exptime, has_version, has_format, has_end, has_records;
    uint64_t flags, exptime, version, format_version, records;
    uint64_t node, created_ms, history, log_pos;
    bool binary_key, format_ok, end;
};

static bool want_num(struct parser *ps, const struct value *v, const char *name, uint64_t max,
                     uint64_t *out)
{
    if (v->type != V_NUM)
        return fail(ps, "\"%s\" must be an unsigned integer", name);
    if (v->num > max)
        return fail(ps, "\"%s\" is %llu, above its maximum %llu", name,
                    (unsigned long long)v->num, (unsigned long long)max);
    *out = v->num;
    return true;
}

static bool want_str(struct parser *ps, const struct value *v, const char *name,
                     struct value *out, bool *has)
{
    if (v->type != V_STR)
        return fail(ps, "\"%s\" must be a string", name);
    *out = *v;
    *has = true;
    return true;
}

static bool want_bool(struct parser *ps, const struct value *v, const char *name, bool *out)
{
    if (v->type != V_TRUE && v->type != V_FALSE)
        return fail(ps, "\"%s\" must be true or false", name);
    *out = v->type == V_TRUE;
    return true;
}

static bool member(struct parser *ps, struct members *m, const char *name, size_t nn,
                   const struct value *v)
{
    bool dummy;
#define IS(s) (nn == strlen(s) && memcmp(name, s, nn) == 0)
    if (IS("key"))
        return want_str(ps, v, "key", &m->key, &m->has_key);
    if (IS("key_b64"))
        return want_str(ps, v, "key_b64", &m->key_b64, &m->has_key_b64);
    if (IS("value"))
        return want_str(ps, v, "value", &m->value, &m->has_value);
    if (IS("value_b64"))
        return want_str(ps, v, "value_b64", &m->value_b64, &m->has_value_b64);
    if (IS("flags"))
        return (m->has_flags = true) && want_num(ps, v, "flags", UINT32_MAX, &m->flags);
    if (IS("exptime"))
        return (m->has_exptime = true) && want_num(ps, v, "exptime", UINT32_MAX, &m->exptime);
    if (IS("version"))
        return (m->has_version = true) && want_num(ps, v, "version", UINT64_MAX, &m->version);
    if (IS("binary_key"))
        return want_bool(ps, v, "binary_key", &m->binary_key);
    if (IS("format")) {
        m->has_format = true;
        struct value s = {0};
        if (!want_str(ps, v, "format", &s, &dummy))
            return false;
        m->format_ok = s.len == strlen(CTL_JSONL_FORMAT) &&
                       memcmp(s.s, CTL_JSONL_FORMAT, s.len) == 0;
        return true;
    }
    if (IS("format_version"))
        return want_num(ps, v, "format_version", UINT64_MAX, &m->format_version);
    if (IS("node"))
        return want_num(ps, v, "node", UINT16_MAX, &m->node);
    if (IS("created_ms"))
        return want_num(ps, v, "created_ms", UINT64_MAX, &m->created_ms);
    if (IS("history"))
        return want_num(ps, v, "history", UINT64_MAX, &m->history);
    if (IS("log_pos"))
        return want_num(ps, v, "log_pos", UINT64_MAX, &m->log_pos);
    if (IS("source"))
        return v->type == V_NULL || want_str(ps, v, "source", &m->source, &m->has_source);
    if (IS("server"))
        return v->type == V_NULL || want_str(ps, v, "server", &m->server, &m->has_server);
    if (IS("source_b64"))
        return want_str(ps, v, "source_b64", &m->source_b64, &m->has_source_b64);
    if (IS("server_b64"))
        return want_str(ps, v, "server_b64", &m->server_b64, &m->has_server_b64);
    if (IS("end"))
        return (m->has_end = true) && want_bool(ps, v, "end", &m->end);
    if (IS("records"))
        return (m->has_records = true) && want_num(ps, v, "records", UINT64_MAX, &m->records);
#undef IS
    return true; /* unknown members are for later versions */
}

static bool object(struct parser *ps, struct members *m)
{
    ws(ps);
    if (ps->i >= ps->n || ps->p[ps->i] != '{')
        return fail(ps, "expected '{' (each line is one JSON object)");
    ps->i++;
    ws(ps);
    if (ps->i < ps->n && ps->p[ps->i] == '}') {
        ps->i++;
    } else {
        for (;;) {
            char *name;
            size_t nn;
            struct value v;
            ws(ps);
            if (!string(ps, &name, &nn))
                return false;
            ws(ps);
            if (ps->i >= ps->n || ps->p[ps->i] != ':')
                return fail(ps, "expected ':' after a member name");
            ps->i++;
            ws(ps);
            size_t vat = ps->i;
            if (!value(ps, &v))
                return false;
            size_t after = ps->i;
            ps->i = vat; /* errors about the value point at it */
            if (!member(ps, m, name, nn, &v))
                return false;
            ps->i = after;
            ws(ps);
            if (ps->i < ps->n && ps->p[ps->i] == ',') {
                ps->i++;
                continue;
            }
            if (ps->i < ps->n && ps->p[ps->i] == '}') {
                ps->i++;
                break;
            }
            return fail(ps, "expected ',' or '}'");
        }
    }
    ws(ps);
    if (ps->i != ps->n)
        return fail(ps, "unexpected bytes after the object");
    return true;
}

/* key or key_b64 (exactly one) into p and n, base64 decoded in place. */
static bool bytes_member(struct parser *ps, const char *name, bool has_text,
                         const struct value *text, bool has_b64, const struct value *b64,
                         const char **p, size_t *n)
{
    if (has_text == has_b64)
        return fail(ps, "an item needs exactly one of \"%s\" and \"%s_b64\"", name, name);
    if (has_text) {
        *p = text->s;
        *n = text->len;
        return true;
    }
    long k = ctl_b64_decode(b64->s, b64->s, b64->len);
    if (k < 0)
        return fail(ps, "\"%s_b64\" is not valid base64", name);
    *p = b64->s;
    *n = (size_t)k;
    return true;
}

static bool item(struct parser *ps, const struct members *m, struct xfer_item *it)
{
    *it = (struct xfer_item){.kind = XFER_SET, .binary_key = m->binary_key,
                             .flags = (uint32_t)m->flags, .exptime = (uint32_t)m->exptime,
                             .version = m->version};
    ps->i = 0; /* errors about the whole item point at its start */
    if (!bytes_member(ps, "key", m->has_key, &m->key, m->has_key_b64, &m->key_b64, &it->key,
                      &it->nkey) ||
        !bytes_member(ps, "value", m->has_value, &m->value, m->has_value_b64, &m->value_b64,
                      &it->value, &it->nvalue))
        return false;
    if (it->nkey == 0 || it->nkey > 250)
        return fail(ps, "key of %zu bytes (keys are 1 to 250 bytes)", it->nkey);
    if (!m->has_flags || !m->has_exptime || !m->has_version)
        return fail(ps, "an item needs \"flags\", \"exptime\" and \"version\"");
    return true;
}

/* The header's source or server: text or (as the encoder writes bytes that
 * are not printable ASCII) base64, made a C string in place in the line. */
static bool header_str(struct parser *ps, const char *name, bool has_text,
                       const struct value *text, bool has_b64, const struct value *b64,
                       const char **out)
{
    if (has_text && has_b64)
        return fail(ps, "a header has at most one of \"%s\" and \"%s_b64\"", name, name);
    if (!has_text && !has_b64)
        return true;
    const char *p;
    size_t n = 0;
    if (!bytes_member(ps, name, has_text, text, has_b64, b64, &p, &n))
        return false;
    char *s = has_text ? text->s : b64->s;
    s[n] = '\0'; /* the closing quote, or earlier */
    *out = s;
    return true;
}

bool ctl_jsonl_decode(char *line, size_t n, struct ctl_jsonl_rec *out, char *err,
                      size_t errlen)
{
    struct parser ps = {.p = line, .n = n, .err = err, .errlen = errlen};
    struct members m = {0};
    memset(out, 0, sizeof(*out));
    if (!object(&ps, &m))
        return false;
    ps.i = 0;
    if (m.has_format) {
        if (!m.format_ok)
            return fail(&ps, "not a Tandem JSON lines backup (\"format\" is not \"%s\")",
                        CTL_JSONL_FORMAT);
        if (m.format_version != CTL_JSONL_VERSION)
            return fail(&ps, "format_version %llu is not supported (this tandemctl reads %d; "
                        "use a newer tandemctl)", (unsigned long long)m.format_version,
                        CTL_JSONL_VERSION);
        out->kind = CTL_JSONL_HEADER;
        out->meta = (struct xfer_meta){.node = (uint16_t)m.node, .created_ms = m.created_ms,
                                       .history = m.history, .log_pos = m.log_pos};
        return header_str(&ps, "source", m.has_source, &m.source, m.has_source_b64,
                          &m.source_b64, &out->meta.source) &&
               header_str(&ps, "server", m.has_server, &m.server, m.has_server_b64,
                          &m.server_b64, &out->meta.server);
    }
    if (m.has_end) {
        if (!m.end || !m.has_records)
            return fail(&ps, "an end line is {\"end\":true,\"records\":N}");
        out->kind = CTL_JSONL_END;
        out->records = m.records;
        return true;
    }
    out->kind = CTL_JSONL_ITEM;
    return item(&ps, &m, &out->item);
}
