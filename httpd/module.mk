# tern-httpd: JMAP, autoconfiguration, MTA-STS and webmail over HTTP.
# jansson (libjansson-dev) reads and writes JSON; see docs/ARCHITECTURE.md.
# librnp: OpenPGP sealing of what JMAP stores (encryption at rest, httpd/seal.c).
$(eval $(call program,httpd,tern-httpd,-ljansson -lrnp,))
# The webmail's files are built into the binary (webmail_files.c, .incbin).
$(BUILD)/obj/httpd/webmail_files.o: $(wildcard httpd/webmail/*)
