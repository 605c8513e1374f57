/* jmap_front.c — JMAP in the front role (first slice: not served yet). */
#include "httpd/jmap_front.h"

void jmap_front_init(void)
{
}

bool jmap_front_serve(struct evhttp_request *req, const char *path)
{
	return false;
}

void jmap_front_drain(void)
{
}
