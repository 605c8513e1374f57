/* recline.h — the line format of the report records queued keeps for
 * `mailctl dmarc report` and `mailctl tlsrpt report` (common/dmarc_record.h,
 * common/tlsrpt_record.h): a tag ("D1", "T1"), then tab-separated fields,
 * each %XX-escaped outside [A-Za-z0-9.-_@+=!:/,;], so no tab, newline or NUL
 * ever appears inside a field and one record is one line. */
#ifndef TERN_RECLINE_H
#define TERN_RECLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct recline {
	char *p;
	size_t len, cap;
};

/* Start a line of at most cap bytes with its tag. */
void recline_begin(struct recline *o, const char *tag, size_t cap);
void recline_field(struct recline *o, const char *s);
void recline_num(struct recline *o, unsigned long long v);
/* The line with its "\n" (malloc'd), or NULL (freed) when it grew past cap. */
char *recline_end(struct recline *o);

/* Split line (with or without its "\n", at most maxlen bytes, starting with
 * tag and a tab) into at most maxf unescaped fields of fieldcap bytes each,
 * field i at f + i * fieldcap. Returns the count, or -1 if the line is
 * malformed, too long, has too many fields or a field too long or with %00. */
int recline_split(const char *line, const char *tag, size_t maxlen, char *f, size_t fieldcap,
		  int maxf);

#endif
