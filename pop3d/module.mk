$(eval $(call program,pop3d,tern-pop3d,,))

# libFuzzer target: command parser, SASL decoding, Maildir names, RETR/TOP writer.
POP3D_FUZZ_SRCS := pop3d/pop3_cmd.c common/sasl.c pop3d/maildrop.c pop3d/msgout.c common/util.c common/strbuf.c common/log.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_pop3d
$(BUILD)/fuzz/fuzz_pop3d: tests/fuzz/fuzz_pop3d.c $(POP3D_FUZZ_SRCS) $(wildcard pop3d/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_pop3d.c $(POP3D_FUZZ_SRCS) -lcrypto
