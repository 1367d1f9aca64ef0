/*
 * libFuzzer target for proxy/conf, the YAML pool file parser, through
 * conf_parse() (conf_load() only reads the file first). Invariants:
 *
 *   - a refusal says where ("line N: ...", N >= 1, N at most the lines
 *     given plus one) and leaves *out empty; nothing leaks either way;
 *   - an accepted file gives pools a running proxy can use as they are:
 *     a name, exactly one of a TCP or UNIX listener, at least one server
 *     each with a label and exactly one of host and path, 1..8 replicas no
 *     more than the servers, and distinct pool names and server labels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/conf.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_pool(const struct conf_pool *p)
{
    CHECK(p->name && *p->name);
    CHECK(!p->listen_host != !p->listen_path);
    if (p->listen_host)
        CHECK(p->listen_port >= 1 && p->listen_port <= 65535);
    CHECK(p->listen_perm >= -1 && p->listen_perm <= 0777);
    CHECK(p->nservers >= 1 && p->servers);
    CHECK(p->replicas >= 1 && p->replicas <= 8 && p->replicas <= p->nservers);
    for (size_t i = 0; i < p->nservers; i++) {
        const struct conf_server *s = &p->servers[i];
        CHECK(s->label && *s->label);
        CHECK(!s->host != !s->path);
        if (s->host)
            CHECK(s->port >= 1 && s->port <= 65535);
        CHECK(s->weight >= 1 && s->weight <= 1000000);
        CHECK(s->line >= 1);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s->label, p->servers[j].label) != 0);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past the text */
    char *text = malloc(size ? size : 1);
    CHECK(text);
    memcpy(text, data, size);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || data[i] == '\r';

    struct conf c;
    char err[1024] = "";
    enum conf_status st = conf_parse(text, size, &c, err, sizeof(err));
    if (st == CONF_OK) {
        CHECK(c.npools >= 1 && c.pools);
        for (size_t i = 0; i < c.npools; i++) {
            check_pool(&c.pools[i]);
            for (size_t j = 0; j < i; j++)
                CHECK(strcmp(c.pools[i].name, c.pools[j].name) != 0);
        }
        conf_free(&c);
    } else {
        CHECK(st == CONF_ESYNTAX || st == CONF_EVALUE || st == CONF_ENOMEM);
        CHECK(c.npools == 0 && c.pools == NULL);
        if (st != CONF_ENOMEM) {
            unsigned long line = 0;
            int used = 0;
            CHECK(sscanf(err, "line %lu: %n", &line, &used) == 1 && used > 0);
            CHECK(line >= 1 && line <= lines + 1);
            CHECK(err[used] != '\0');
        }
    }
    free(text);
    return 0;
}
