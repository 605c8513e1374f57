/* jmap_front.h — JMAP in the front role: authentication and relaying
 * requests to the user's mail process. */
#ifndef TERN_HTTPD_JMAP_FRONT_H
#define TERN_HTTPD_JMAP_FRONT_H

#include <stdbool.h>

struct evhttp_request;

void jmap_front_init(void);
/* true if path is a JMAP resource (answered now or later). */
bool jmap_front_serve(struct evhttp_request *req, const char *path);
/* A new generation serves: end push streams (clients reconnect). */
void jmap_front_drain(void);

#endif
