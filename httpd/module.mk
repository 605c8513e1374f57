# tern-httpd: JMAP, autoconfiguration, MTA-STS and webmail over HTTP.
# jansson (libjansson-dev) reads and writes JSON; see docs/ARCHITECTURE.md.
# librnp: OpenPGP sealing of what JMAP stores (encryption at rest, httpd/seal.c).
$(eval $(call program,httpd,tern-httpd,-ljansson -lrnp,))
# The webmail's files are built into the binary (webmail_files.c, .incbin).
$(BUILD)/obj/httpd/webmail_files.o: $(wildcard httpd/webmail/*)

# libFuzzer target: the front's parsers before login (front_parse.c) and a
# JMAP API request in a mail process, every method's arguments included.
HTTPD_FUZZ_SRCS := $(addprefix httpd/,account.c blob.c blob_seal.c chan.c email.c email_body.c \
	email_headers.c email_make.c email_query.c email_query_recent.c email_set.c front_parse.c jmap_api.c jmap_core.c \
	jmap_email.c jmap_email_import.c jmap_identity.c jmap_mailbox.c jmap_mailbox_set.c \
	jmap_snippet.c jmap_submission.c jmap_util.c jmap_vacation.c journal.c push.c seal.c \
	submission_send.c) \
	$(addprefix common/,config.c ipc.c log.c mailcrypt.c mailcrypt_hp.c mailcrypt_pgp.c \
	mailcrypt_policy.c mailcrypt_smime.c maildate.c mailindex.c mailindex_fields.c \
	mailindex_tomb.c mailkeywords.c mailmove.c mailstore.c map.c mime.c mime_addr.c \
	mime_addr_text.c mime_decode.c mime_encode.c mime_imap.c mime_stream.c objectid.c \
	strbuf.c threadid.c util.c vacation.c workahead.c)
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_httpd
$(BUILD)/fuzz/fuzz_httpd: tests/fuzz/fuzz_httpd.c $(HTTPD_FUZZ_SRCS) $(wildcard httpd/*.h common/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_httpd.c $(HTTPD_FUZZ_SRCS) \
		-ljansson -lrnp -levent -lssl -lcrypto -ldb -lpthread
