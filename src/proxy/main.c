/*
 * tandem-proxy: placeholder until the router lands (issue 6).
 */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "tandem-proxy: not built yet\n");
    return 1;
}
