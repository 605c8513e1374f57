# tern-httpd: JMAP, autoconfiguration, MTA-STS and webmail over HTTP.
# jansson (libjansson-dev) reads and writes JSON; see docs/ARCHITECTURE.md.
$(eval $(call program,httpd,tern-httpd,-ljansson,))
