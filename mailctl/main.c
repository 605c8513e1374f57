/* mailctl — placeholder until the master lands. */
#include <stdio.h>
int main(void) { fprintf(stderr, "mailctl: not built yet\n"); return 1; }
