/* webmail_files.c — the webmail's static files (httpd/webmail/), built into
 * the binary with the assembler's .incbin: the front role runs chrooted in
 * run_dir with nothing on disk to read, and a page that cannot go missing or
 * be swapped under a running daemon needs no install path of its own. */
#include "httpd/webmail.h"

#include <string.h>

/* One file: its bytes between NAME_start and NAME_end in .rodata. The path
 * is the compiler's working directory (the top of the tree, as make runs it);
 * httpd/module.mk makes the object depend on the files. */
#define EMBED(name, file)                                                   \
	__asm__(".section .rodata\n"                                        \
		".balign 16\n"                                              \
		".global wm_" #name "_start\n"                              \
		"wm_" #name "_start:\n"                                     \
		".incbin \"httpd/webmail/" file "\"\n"                      \
		".global wm_" #name "_end\n"                                \
		"wm_" #name "_end:\n"                                       \
		".previous\n");                                             \
	extern const char wm_##name##_start[], wm_##name##_end[]

EMBED(index, "index.html");
EMBED(app, "app.js");
EMBED(jmap, "jmap.js");
EMBED(sanitize, "sanitize.js");
EMBED(search, "search.js");
EMBED(css, "webmail.css");
EMBED(frame, "frame.html");

#define FILE_ENTRY(path, name, type) { path, type, wm_##name##_start, wm_##name##_end }

static const struct {
	const char *path, *type;
	const char *start, *end;
} files[] = {
	FILE_ENTRY("", index, "text/html; charset=utf-8"),
	FILE_ENTRY("index.html", index, "text/html; charset=utf-8"),
	FILE_ENTRY("app.js", app, "text/javascript; charset=utf-8"),
	FILE_ENTRY("jmap.js", jmap, "text/javascript; charset=utf-8"),
	FILE_ENTRY("sanitize.js", sanitize, "text/javascript; charset=utf-8"),
	FILE_ENTRY("search.js", search, "text/javascript; charset=utf-8"),
	FILE_ENTRY("webmail.css", css, "text/css; charset=utf-8"),
	/* the same blank document under two names: webmail_front.c gives each
	 * its own policy */
	FILE_ENTRY("frame.html", frame, "text/html; charset=utf-8"),
	FILE_ENTRY("frame-images.html", frame, "text/html; charset=utf-8"),
};

bool webmail_file(const char *name, struct webmail_file *out)
{
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (!strcmp(files[i].path, name)) {
			out->type = files[i].type;
			out->data = files[i].start;
			out->len = (size_t)(files[i].end - files[i].start);
			return true;
		}
	}
	return false;
}
