/* tandemd entry point (placeholder while the server lands). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "tandemd: not built yet\n");
    return 1;
}
