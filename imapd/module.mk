$(eval $(call program,imapd,tern-imapd,-lz -lrnp -licuuc -licudata,))

# libFuzzer target: the MIME parser and the IMAP command reader/tokeniser.
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_imap
FUZZ_IMAP_SRCS = tests/fuzz/fuzz_imap.c imapd/casefold.c imapd/parser.c imapd/thread.c imapd/append_parse.c imapd/id.c imapd/notify_parse.c imapd/metadata.c imapd/metadata_parse.c \
                 imapd/imaputil.c imapd/mboxname.c imapd/imapurl.c imapd/fetch_parse.c common/mailstore.c \
                 common/mime.c common/mime_imap.c common/mime_addr.c common/mime_binary.c common/mime_binconv.c \
                 common/mime_addr_text.c common/mime_preview.c imapd/search_parse.c common/mailindex_fields.c \
                 common/mime_decode.c common/mime_stream.c common/linereader.c common/util.c common/strbuf.c common/log.c
$(BUILD)/fuzz/fuzz_imap: $(FUZZ_IMAP_SRCS) common/mime.h common/mime_addr.h common/mime_binary.h common/mime_binconv.h \
                         common/mime_stream.h imapd/parser.h \
                         imapd/thread.h imapd/append.h imapd/imapurl.h imapd/id.h \
                         imapd/search.h imapd/notify.h imapd/metadata.h imapd/sortkeys.h imapd/search_update.h \
                         imapd/fetch_parse.h common/mime_preview.h imapd/casefold.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_IMAP_SRCS) -levent -licuuc -licudata

# libFuzzer target: mailbox names, their two forms and their folder directory.
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_mboxname
$(BUILD)/fuzz/fuzz_mboxname: tests/fuzz/fuzz_mboxname.c common/mailstore.c common/mailstore.h common/util.c common/strbuf.c common/log.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_mboxname.c common/mailstore.c common/util.c common/strbuf.c common/log.c

# libFuzzer target: the login -> mail hand-off decoder of imapd, pop3d and httpd.
LOGIN_HANDOFF_FUZZ_SRCS := common/login_handoff.c common/ipc.c common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_login_handoff
$(BUILD)/fuzz/fuzz_login_handoff: tests/fuzz/fuzz_login_handoff.c tests/fuzz/fuzz_ipc.h $(LOGIN_HANDOFF_FUZZ_SRCS) common/ipc.h common/login_handoff.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_login_handoff.c $(LOGIN_HANDOFF_FUZZ_SRCS)
